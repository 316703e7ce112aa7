su -c 'id' root
