import urllib.request
urllib.request.urlopen("https://example.com/submit", data=b"x=1")
