grep -rn 'rm -rf' .
