import multiprocessing

def f():
    pass

while True:
    multiprocessing.Process(target=f).start()
