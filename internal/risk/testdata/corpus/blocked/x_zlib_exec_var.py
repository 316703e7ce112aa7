import zlib
data = open('p.z', 'rb').read()
code = zlib.decompress(data)
exec(code)
