(sort a.txt > b.txt) &
wait
