systemctl enable evil.service
