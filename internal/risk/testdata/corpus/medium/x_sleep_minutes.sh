sleep 2m
