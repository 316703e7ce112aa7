mount -t proc proc /mnt/proc
