with open("/proc/cpuinfo") as f:
    print(sum(1 for l in f if l.startswith("processor")))
