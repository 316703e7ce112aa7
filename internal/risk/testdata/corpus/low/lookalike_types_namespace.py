import types, os
ns = types.SimpleNamespace(a=1)
print(ns.a, os.getcwd(), os.path.basename("/a/b"))
