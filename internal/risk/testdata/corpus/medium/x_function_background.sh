work() {
  sort big.txt > sorted.txt &
  wait
}
work
