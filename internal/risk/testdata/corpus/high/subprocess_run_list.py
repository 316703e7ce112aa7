import subprocess
out = subprocess.run(["git", "status"], capture_output=True, text=True)
print(out.stdout)
