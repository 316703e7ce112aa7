import os
print(os.listdir('/etc'))
