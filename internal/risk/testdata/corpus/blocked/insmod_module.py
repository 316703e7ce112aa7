import subprocess
subprocess.run(["insmod", "rootkit.ko"])
