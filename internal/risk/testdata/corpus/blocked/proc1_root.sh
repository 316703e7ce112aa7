ls /proc/1/root/
