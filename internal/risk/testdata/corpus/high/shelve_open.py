import shelve
with shelve.open("cache") as db:
    print(dict(db))
