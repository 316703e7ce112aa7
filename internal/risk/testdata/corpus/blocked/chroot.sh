chroot /mnt /bin/sh
