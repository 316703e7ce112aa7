echo "token: $GITHUB_TOKEN"
