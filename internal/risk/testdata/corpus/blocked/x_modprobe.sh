modprobe evil
