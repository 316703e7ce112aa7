import os
print(os.popen("uname -a").read())
