echo "GET /" | nc example.com 80
