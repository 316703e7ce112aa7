package main

import (
	"net/http"
	"strings"
)

func main() {
	http.Post("https://example.com/api", "text/plain", strings.NewReader("x"))
}
