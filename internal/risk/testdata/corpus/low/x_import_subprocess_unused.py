import subprocess
print('ready')
