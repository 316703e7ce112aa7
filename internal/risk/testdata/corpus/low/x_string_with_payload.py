doc = "exec(base64.b64decode('...')) is how droppers hide"
print(len(doc))
