unshare -r sh
