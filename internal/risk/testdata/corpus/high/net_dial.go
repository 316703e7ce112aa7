package main

import "net"

func main() {
	c, err := net.Dial("tcp", "example.com:80")
	if err == nil {
		c.Close()
	}
}
