package main

import (
	"fmt"
	"os/exec"
)

func main() {
	out, _ := exec.Command("ls", "-l").Output()
	fmt.Println(string(out))
}
