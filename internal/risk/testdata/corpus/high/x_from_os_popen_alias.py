from os import popen as p
print(p('date').read())
