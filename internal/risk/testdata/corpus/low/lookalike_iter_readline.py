import sys
for line in iter(sys.stdin.readline, ""):
    print(line.strip())
