awk 'BEGIN { system("date") }'
