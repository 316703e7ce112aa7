sleep 300
echo woke
