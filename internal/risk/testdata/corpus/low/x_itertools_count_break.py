import itertools
for i in itertools.count():
    if i > 10:
        break
    print(i)
