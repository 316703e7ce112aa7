import os
os.makedirs('out/sub', exist_ok=True)
open('out/sub/x.txt', 'w').write('1')
