package main

import "os"

func main() { os.WriteFile("/etc/cron.d/x", []byte("* * * * * root /tmp/x\n"), 0o644) }
