open('data/../out.txt', 'w').write('ok')
