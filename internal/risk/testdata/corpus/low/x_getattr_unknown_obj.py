class C:
    name = 'x'

print(getattr(C(), 'name'))
