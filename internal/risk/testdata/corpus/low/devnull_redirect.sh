grep -q needle haystack.txt > /dev/null 2>&1 && echo found
