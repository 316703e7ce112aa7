find . -name '*.o' -exec rm {} \;
