echo data > /home/user/file
