tar czf backup.tgz data/
