import ctypes
libc = ctypes.CDLL("libc.so.6")
libc.ptrace(16, 1, 0, 0)
