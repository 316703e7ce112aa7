import os
import subprocess
os.environ["PATH"] = "/tmp/bin:" + os.environ.get("PATH", "")
subprocess.run(["ls"])
