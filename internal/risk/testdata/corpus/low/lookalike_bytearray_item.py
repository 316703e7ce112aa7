buf = bytearray(16)
buf[0] = 255
print(buf)
