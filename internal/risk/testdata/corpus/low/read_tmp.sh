cat /tmp/data.csv | cut -d, -f2 | sort -n | tail -1
