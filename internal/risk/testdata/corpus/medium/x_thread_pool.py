from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(max_workers=4) as ex:
    print(list(ex.map(abs, [-1, -2])))
