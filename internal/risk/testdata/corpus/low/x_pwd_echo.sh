echo "$PWD"
