import marshal
code = marshal.loads(open("blob.bin", "rb").read())
