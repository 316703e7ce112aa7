for f in *.txt; do
  [ -e "$f" ] || continue
  lines=$(wc -l < "$f")
  echo "$f: $lines"
done | sort -t: -k2 -n
