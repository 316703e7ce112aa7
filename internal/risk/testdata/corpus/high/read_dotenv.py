with open(".env") as f:
    for line in f:
        print(line)
