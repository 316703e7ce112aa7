import subprocess
cmd = ['ls', '-la']
print(subprocess.check_output(cmd))
