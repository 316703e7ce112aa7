export GREETING="hi"
echo "$GREETING there"
