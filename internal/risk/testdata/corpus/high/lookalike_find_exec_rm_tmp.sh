find . -name '*.tmp' -exec rm {} +
