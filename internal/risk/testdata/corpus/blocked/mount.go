package main

import "syscall"

func main() { syscall.Mount("proc", "/mnt", "proc", 0, "") }
