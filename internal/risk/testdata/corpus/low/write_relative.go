package main

import "os"

func main() {
	_ = os.WriteFile("out.txt", []byte("hi\n"), 0o644)
}
