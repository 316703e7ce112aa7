mkfs -t ext4 /dev/sdb
