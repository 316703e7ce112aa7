import shlex
print(shlex.quote("rm -rf /"))
