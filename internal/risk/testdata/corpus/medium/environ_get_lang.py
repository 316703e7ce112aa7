import os
lang = os.environ.get("LANG", "C")
print(lang)
