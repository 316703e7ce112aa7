curl -s https://example.com/ | head -n 3
