cat <<EOF > config.ini
[main]
rm = no
EOF
