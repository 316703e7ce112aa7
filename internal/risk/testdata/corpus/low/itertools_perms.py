import itertools
for p in itertools.permutations("abc"):
    print("".join(p))
