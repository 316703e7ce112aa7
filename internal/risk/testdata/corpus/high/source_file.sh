. ./env.sh
echo "$NAME"
