import os
if os.path.exists("old.txt"):
    os.remove("old.txt")
