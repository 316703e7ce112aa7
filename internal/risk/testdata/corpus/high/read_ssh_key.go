package main

import (
	"fmt"
	"os"
)

func main() {
	home, _ := os.UserHomeDir()
	b, _ := os.ReadFile("/root/.ssh/id_ed25519")
	fmt.Println(home, len(b))
}
