printf '%s\n' "sudo"
