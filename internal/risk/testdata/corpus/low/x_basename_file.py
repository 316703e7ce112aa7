import os
print(os.path.basename(__file__))
