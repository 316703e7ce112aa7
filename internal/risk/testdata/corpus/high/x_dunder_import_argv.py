import sys
mod = __import__(sys.argv[1])
