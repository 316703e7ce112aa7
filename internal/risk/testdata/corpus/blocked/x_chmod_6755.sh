chmod 6755 /tmp/x
