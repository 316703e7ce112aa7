import re
text = "alice@example.com, bob@example.org"
print(re.findall(r"[\w.]+@[\w.]+", text))
