open('/home/user/notes.txt', 'w').write('x')
