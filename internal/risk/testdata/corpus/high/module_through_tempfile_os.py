import tempfile
tempfile._os.system("id")
