grep -c a <<< "banana"
