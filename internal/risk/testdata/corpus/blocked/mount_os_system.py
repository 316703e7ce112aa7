import os
os.system("mount -t proc proc /mnt")
