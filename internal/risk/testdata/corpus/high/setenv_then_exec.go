package main

import (
	"os"
	"os/exec"
)

func main() {
	os.Setenv("PATH", "/tmp/bin")
	exec.Command("ls").Run()
}
