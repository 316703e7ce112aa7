rm -r /tmp/cache
