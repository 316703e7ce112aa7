package main

import "os/exec"

func main() { exec.Command("sudo", "id").Run() }
