from requests import get
print(get('https://example.com').status_code)
