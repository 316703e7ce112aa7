import itertools
for i, w in zip(itertools.count(), ["a", "b"]):
    print(i, w)
