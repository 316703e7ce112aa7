import timeit, sys
timeit.timeit(sys.argv[1], number=1)
