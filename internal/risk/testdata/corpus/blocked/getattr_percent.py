import subprocess
run = getattr(subprocess, "%s%s" % ("ca", "ll"))
run(["id"])
