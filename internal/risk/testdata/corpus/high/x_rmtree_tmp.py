import shutil
shutil.rmtree('/tmp/build')
