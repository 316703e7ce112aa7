with open("/var/log/myapp.log", "a") as f:
    f.write("started\n")
