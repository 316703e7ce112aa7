package main

import (
	"fmt"
	"unsafe"
)

func main() {
	x := 1
	fmt.Println(*(*int)(unsafe.Pointer(&x)))
}
