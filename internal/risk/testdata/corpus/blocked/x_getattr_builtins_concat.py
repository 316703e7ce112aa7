e = getattr(__builtins__, 'ev' + 'al')
e('1')
