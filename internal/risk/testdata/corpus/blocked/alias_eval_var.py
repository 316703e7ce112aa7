e = eval
cmd = input()
e(cmd)
