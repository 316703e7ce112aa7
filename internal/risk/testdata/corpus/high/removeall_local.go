package main

import "os"

func main() { _ = os.RemoveAll("build") }
