find . -name '*.txt' | wc -l
