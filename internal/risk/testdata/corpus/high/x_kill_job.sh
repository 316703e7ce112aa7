sleep 5 &
kill %1
