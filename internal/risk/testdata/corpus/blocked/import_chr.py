mod = __import__(chr(111) + chr(115))
mod.popen("id")
