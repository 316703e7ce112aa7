import random
rng = random.Random(42)
print([rng.randint(1, 6) for _ in range(10)])
