import os
pid = os.fork()
if pid == 0:
    print("child")
    os._exit(0)
os.wait()
