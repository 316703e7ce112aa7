package main

import "os"

func main() { _ = os.Remove("old.txt") }
