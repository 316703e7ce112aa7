xs = [0] * (100_000_000)
print(len(xs))
