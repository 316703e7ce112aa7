import os, sys
os.system(f'ls {sys.argv[1]}')
