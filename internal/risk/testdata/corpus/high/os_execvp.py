import os
os.execvp("date", ["date", "+%s"])
