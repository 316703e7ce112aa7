import http.client
conn = http.client.HTTPSConnection("example.com")
conn.request("GET", "/")
print(conn.getresponse().status)
