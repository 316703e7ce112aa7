import os
cmds = ["rm -rf ~/projects"]
list(map(os.system, cmds))
