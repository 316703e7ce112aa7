package main

import "net"

func main() { net.Dial("unix", "/var/run/docker.sock") }
