a=3
b=4
echo $((a * a + b * b))
