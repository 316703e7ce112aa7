find . -type f -name '*.bak' -print
