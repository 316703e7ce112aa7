src = input()
print(eval(compile(src, '<s>', 'eval')))
