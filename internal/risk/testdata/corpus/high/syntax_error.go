package main

func main() {
	fmt.Println("missing brace"
}
