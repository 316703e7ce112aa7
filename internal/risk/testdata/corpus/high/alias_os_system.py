import os as o
runner = o.system
runner("hostname")
