import subprocess as sp
sp.Popen('ls', shell=True).wait()
