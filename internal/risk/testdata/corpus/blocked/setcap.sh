setcap cap_net_raw+ep ./ping
