#!/bin/bash
# Summarise an access log: top paths, status codes, busiest hour.
set -euo pipefail

log=access.log
tmp=/tmp/log-summary.$$

count_lines() {
  wc -l < "$1"
}

top_paths() {
  awk '{ print $7 }' "$log" | sort | uniq -c | sort -rn | head -n 10
}

status_codes() {
  awk '{ print $9 }' "$log" | sort | uniq -c | sort -rn
}

busiest_hour() {
  cut -d: -f2 "$log" | sort | uniq -c | sort -rn | head -n 1
}

echo "lines: $(count_lines "$log")"
echo
echo "top paths:"
top_paths | tee "$tmp"
echo
echo "status codes:"
status_codes
echo
echo "busiest hour:"
busiest_hour
grep -c ' 500 ' "$log" > errors.txt
echo "errors: $(cat errors.txt)"
