with open("out.txt", "w") as f:
    f.write("hello\n")
with open("out.txt") as f:
    print(f.read())
