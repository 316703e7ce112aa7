wget https://example.com/file.tar.gz
