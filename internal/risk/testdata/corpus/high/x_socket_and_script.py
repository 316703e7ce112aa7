import socket
import subprocess

s = socket.create_connection(("example.com", 80))
s.close()
subprocess.run(["bash", "build.sh"])
