name=$(printf '%s-%s' a b)
echo "$name"
