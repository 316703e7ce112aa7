busybox echo hello
