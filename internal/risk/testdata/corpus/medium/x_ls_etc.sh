ls /etc
