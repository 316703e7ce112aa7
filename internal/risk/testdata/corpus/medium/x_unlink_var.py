import os
name = 'cache.json'
os.unlink(name)
