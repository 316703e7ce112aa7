find ~ -type f -delete
