import threading
def work(n):
    print(n * n)
t = threading.Thread(target=work, args=(3,))
t.start(); t.join()
