import netrc
print(netrc.netrc().hosts)
