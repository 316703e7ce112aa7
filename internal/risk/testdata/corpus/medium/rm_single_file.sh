rm -f old.log
