sort big.txt > sorted.txt &
wait
