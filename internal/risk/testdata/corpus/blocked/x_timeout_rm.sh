timeout 10 rm -rf /
