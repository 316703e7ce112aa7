package main

import "fmt"

func main() {
	fmt.Println("do not type rm -rf / or sudo anything")
}
