import ctypes
ctypes.CDLL(None).printf(b'hi')
