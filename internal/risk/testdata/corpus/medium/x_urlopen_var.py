import urllib.request
url = 'https://example.com/data.json'
print(urllib.request.urlopen(url).read()[:10])
