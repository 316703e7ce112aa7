from multiprocessing import Pool

def sq(x):
    return x * x

with Pool(4) as p:
    print(p.map(sq, range(10)))
