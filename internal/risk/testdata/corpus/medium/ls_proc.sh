head -n 5 /proc/meminfo
