with open("/tmp/data.txt", "a+") as f:
    f.seek(0)
    print(f.read())
