ssh-keygen -t ed25519 -f key -N ''
