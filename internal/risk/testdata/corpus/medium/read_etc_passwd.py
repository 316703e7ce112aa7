for line in open("/etc/passwd"):
    print(line.split(":")[0])
