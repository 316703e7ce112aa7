echo "started" >> /var/log/app.log
