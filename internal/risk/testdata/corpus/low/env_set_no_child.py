import os
os.environ["MY_FLAG"] = "1"
print("flag set")
