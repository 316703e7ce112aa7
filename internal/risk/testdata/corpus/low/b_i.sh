#!/bin/sh
set -e
total=0
while read -r n; do
  total=$((total + n))
done < numbers.txt
echo "sum: $total"
printf 'avg: %s\n' "$(echo "$total / 3" | bc)"
