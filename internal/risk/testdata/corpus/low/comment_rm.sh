# rm -rf / would be catastrophic; this script only counts lines
wc -l < input.txt
