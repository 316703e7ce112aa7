package main

import (
	"encoding/base64"
	"os/exec"
)

func main() {
	b, _ := base64.StdEncoding.DecodeString("aWQ=")
	exec.Command("sh", "-c", string(b)).Run()
}
