echo 0 > /proc/sys/kernel/randomize_va_space
