from functools import partial
add3 = partial(lambda a, b: a + b, 3)
print(add3(4))
