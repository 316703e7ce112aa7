import os
os.chroot("/")
