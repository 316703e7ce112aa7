cat words.txt | tr 'A-Z' 'a-z' | sort | uniq -c | sort -rn | head -n 5
