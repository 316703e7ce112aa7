package main

import "fmt"

type Expr struct{ v int }

func (e Expr) Eval() int { return e.v * 2 }

func main() { fmt.Println(Expr{21}.Eval()) }
