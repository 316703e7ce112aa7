import shutil
shutil.rmtree("/home/user/projects")
