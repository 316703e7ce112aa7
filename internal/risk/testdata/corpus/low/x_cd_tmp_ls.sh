cd /tmp && ls
