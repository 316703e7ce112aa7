m = __import__(bytes.fromhex('6f73').decode())
m.system('id')
