import multiprocessing
ctx = multiprocessing.get_context("fork")
while True:
    ctx.Process(target=print).start()
