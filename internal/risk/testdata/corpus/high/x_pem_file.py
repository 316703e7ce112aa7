key = open('server.pem').read()
print(len(key))
