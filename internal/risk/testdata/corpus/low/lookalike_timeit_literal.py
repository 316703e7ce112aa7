import timeit
print(timeit.timeit("sum(range(100))", number=100))
