import math as m
print(m.sqrt(2))
