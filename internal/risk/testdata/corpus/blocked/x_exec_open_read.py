exec(open('x.py').read())
