sudo apt-get install -y nmap
