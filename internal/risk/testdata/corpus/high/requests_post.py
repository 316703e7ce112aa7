import requests
requests.post("https://example.com/api", json={"a": 1})
