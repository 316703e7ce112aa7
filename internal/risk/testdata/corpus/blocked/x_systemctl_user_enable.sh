systemctl --user enable x.service
