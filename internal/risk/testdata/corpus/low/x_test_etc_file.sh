[ -f /etc/hostname ] && echo yes
