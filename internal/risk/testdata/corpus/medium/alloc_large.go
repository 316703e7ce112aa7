package main

import "fmt"

func main() {
	b := make([]byte, 512<<20)
	fmt.Println(len(b))
}
