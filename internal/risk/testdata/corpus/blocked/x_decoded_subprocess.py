import base64, subprocess
cmd = base64.b64decode('aWQ=')
subprocess.run(cmd, shell=True)
