snippet = "import os; os.system('ls')"
print("example code:", snippet)
