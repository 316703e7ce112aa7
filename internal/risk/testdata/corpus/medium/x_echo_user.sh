echo "$USER"
