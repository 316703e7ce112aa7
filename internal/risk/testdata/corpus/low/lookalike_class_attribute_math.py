import math
class Util:
    root = math.sqrt
print(Util.root(16))
