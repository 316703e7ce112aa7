chmod 600 ~/.ssh/config
