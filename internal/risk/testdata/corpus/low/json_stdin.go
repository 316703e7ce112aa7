package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	var v []int
	if err := json.NewDecoder(os.Stdin).Decode(&v); err != nil {
		fmt.Println(err)
		return
	}
	s := 0
	for _, x := range v {
		s += x
	}
	fmt.Println(s)
}
