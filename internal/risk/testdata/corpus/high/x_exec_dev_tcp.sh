exec 3<>/dev/tcp/example.com/80
echo -e 'GET / HTTP/1.0\r\n' >&3
cat <&3
