code = compile('print(2 + 2)', '<s>', 'exec')
exec(code)
