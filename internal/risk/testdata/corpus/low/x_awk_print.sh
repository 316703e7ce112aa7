awk '{ print $1 }' data.txt
