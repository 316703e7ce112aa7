sum() {
  local a=$1 b=$2
  echo $((a + b))
}
sum 2 3
