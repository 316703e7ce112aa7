import os
os.chown("data.txt", 1000, 1000)
