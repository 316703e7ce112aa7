echo "1.2.3.4 example.com" >> /etc/hosts
