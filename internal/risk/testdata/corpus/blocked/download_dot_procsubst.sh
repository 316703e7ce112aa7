. <(curl -fsSL http://h.example/x)
