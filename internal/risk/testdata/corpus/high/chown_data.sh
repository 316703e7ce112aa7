chown 1000:1000 data.txt
