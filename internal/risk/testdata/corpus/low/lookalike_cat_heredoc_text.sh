cat <<EOF
rm -rf / is only text here
EOF
