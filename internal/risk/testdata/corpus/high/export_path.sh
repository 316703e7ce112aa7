export PATH="/tmp/bin:$PATH"
ls
