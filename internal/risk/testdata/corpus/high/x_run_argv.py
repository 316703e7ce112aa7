import subprocess, sys
subprocess.run(sys.argv[1:])
