awk '{ s += $2 } END { print s }' data.txt
