import requests
requests.put('https://example.com/x', data='y')
