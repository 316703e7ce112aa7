import os
here = os.getcwd()
for name in sorted(os.listdir(".")):
    print(os.path.join(here, name))
