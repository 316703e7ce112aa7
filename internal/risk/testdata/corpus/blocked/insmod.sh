insmod ./rootkit.ko
