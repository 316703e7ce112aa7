import gc
for o in gc.get_objects():
    if getattr(o, "__name__", "") == "system":
        o("id")
