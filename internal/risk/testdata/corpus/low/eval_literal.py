result = eval("1 + 2")
print(result)
