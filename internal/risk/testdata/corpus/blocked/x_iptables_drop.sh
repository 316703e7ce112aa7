iptables -A INPUT -j DROP
