printf '%s\n' 'rm -rf /' | grep -c rm
