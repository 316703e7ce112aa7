#!/bin/bash
# Compare each program's output with its expected output.
set -u
pass=0
fail=0

check() {
  local name=$1
  local got=out/$name.got
  local want=tests/$name.want
  if diff -q "$got" "$want" > /dev/null; then
    pass=$((pass + 1))
    echo "ok   $name"
  else
    fail=$((fail + 1))
    echo "FAIL $name"
    diff "$got" "$want" | head -n 5
  fi
}

mkdir -p out
for want in tests/*.want; do
  name=$(basename "$want" .want)
  sort "tests/$name.in" | uniq > "out/$name.got"
  check "$name"
done

echo
echo "passed: $pass"
echo "failed: $fail"
[ "$fail" -eq 0 ]
