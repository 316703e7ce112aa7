import os, stat
os.chmod('x', stat.S_ISUID | 0o755)
