unit = "[Service]\nExecStart=/tmp/x\n"
with open("/etc/systemd/system/x.service", "w") as f:
    f.write(unit)
