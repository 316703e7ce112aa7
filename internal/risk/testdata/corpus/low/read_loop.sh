while read -r line; do
  echo "${#line} $line"
done < input.txt
