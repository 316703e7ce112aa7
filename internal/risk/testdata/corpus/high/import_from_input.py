import importlib
import sys
mod = importlib.import_module(sys.argv[1])
print(mod)
