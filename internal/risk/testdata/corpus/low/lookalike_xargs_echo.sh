printf '1\n2\n' | xargs -n1 echo
