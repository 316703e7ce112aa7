#!/bin/sh
# Print a short report about the data files in this directory.
set -e

section() {
  echo
  echo "== $1 =="
}

section "files"
ls -1 | head -n 20

section "sizes"
wc -c ./*.txt 2>/dev/null | tail -n 1

section "cpu"
grep -c processor /proc/cpuinfo

section "words"
cat ./*.txt 2>/dev/null | tr -s ' ' '\n' | sort | uniq -c | sort -rn | head -n 5

section "done"
date
