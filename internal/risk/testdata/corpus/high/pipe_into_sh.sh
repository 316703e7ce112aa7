echo "ls -l" | sh
