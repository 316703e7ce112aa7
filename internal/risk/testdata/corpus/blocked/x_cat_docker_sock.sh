cat /var/run/docker.sock
