import subprocess
subprocess.run(['python3', '-c', 'print(1)'])
