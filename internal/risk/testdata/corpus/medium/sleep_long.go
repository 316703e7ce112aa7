package main

import "time"

func main() { time.Sleep(2 * time.Minute) }
