name=report
out="${name}.md"
{
  echo "# Report"
  date +%F
  ls -1 data | head -n 3
} > "$out"
cat "$out"
