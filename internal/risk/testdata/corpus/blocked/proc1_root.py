print(open("/proc/1/root/etc/hostname").read())
