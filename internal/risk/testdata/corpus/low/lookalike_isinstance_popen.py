import subprocess
def check(p):
    return isinstance(p, subprocess.Popen)
print(check(None), subprocess.PIPE)
