from urllib.request import urlopen
with urlopen("https://example.com") as resp:
    print(resp.status)
