import re
text = open("report.txt").read()
for m in re.finditer(r"(\w+)@(\w+)\.com", text):
    print(m.group(1))
with open("report.txt", "a") as f:
    f.write("\nchecked\n")
