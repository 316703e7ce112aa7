read -r -p 'name? ' n
echo "$n"
