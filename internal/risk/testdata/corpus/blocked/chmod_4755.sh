chmod 4755 ./helper
