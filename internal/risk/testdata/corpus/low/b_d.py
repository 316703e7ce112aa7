import os
path = os.path.join("data", "input.csv")
if os.path.isfile(path):
    with open(path) as f:
        rows = [l.strip().split(",") for l in f]
    print(len(rows))
