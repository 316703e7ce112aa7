tool="$1"
"$tool" --version
