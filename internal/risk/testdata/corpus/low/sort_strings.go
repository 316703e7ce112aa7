package main

import (
	"fmt"
	"sort"
	"strings"
)

func main() {
	w := strings.Fields("pear apple fig")
	sort.Strings(w)
	fmt.Println(strings.Join(w, ","))
}
