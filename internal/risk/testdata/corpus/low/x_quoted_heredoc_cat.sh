cat <<'EOF'
rm -rf /
sudo reboot
EOF
