package risk

import "mvdan.cc/sh/v3/syntax"

// maxShellDepth bounds the depth of the shell syntax tree the analysis
// walks, counted in syntax nodes; statements below it are cut off.
const maxShellDepth = 2000

// flattenShell reshapes a parsed script so that no walk over it recurses
// deeply, whatever the input's shape: a chain of && and || becomes a block
// of its commands (the rules judge each command alike), a long pipeline a
// balanced tree of its stages, and a statement nested deeper than
// maxShellDepth loses its command (cut reports that). It walks the
// original tree with a bounded depth, reshaping each chain before it
// descends into it.
func flattenShell(f *syntax.File) (cut bool) {
	depth := 0
	built := map[*syntax.Stmt]bool{} // pipeline nodes balancedPipe made
	syntax.Walk(f, func(n syntax.Node) bool {
		if n == nil {
			depth--
			return true
		}
		s, isStmt := n.(*syntax.Stmt)
		if depth >= maxShellDepth {
			if isStmt {
				s.Cmd, s.Redirs = nil, nil
			}
			cut = true
			return false
		}
		if isStmt && !built[s] {
			reshapeChain(s, built)
		}
		depth++
		return true
	})
	return cut
}

func isAndOr(op syntax.BinCmdOperator) bool { return op == syntax.AndStmt || op == syntax.OrStmt }

func isPipe(op syntax.BinCmdOperator) bool { return op == syntax.Pipe || op == syntax.PipeAll }

// reshapeChain rewrites s when it holds a chain of binary commands.
func reshapeChain(s *syntax.Stmt, built map[*syntax.Stmt]bool) {
	b, ok := s.Cmd.(*syntax.BinaryCmd)
	if !ok {
		return
	}
	switch {
	case isAndOr(b.Op):
		items := chainItems(s, isAndOr)
		s.Cmd = &syntax.Block{Lbrace: s.Pos(), Rbrace: s.End(), Stmts: items}
	case isPipe(b.Op):
		stages := chainItems(s, isPipe)
		if len(stages) > 8 {
			s.Cmd = balancedPipe(stages, b.Op, built).Cmd
		}
	}
}

// chainItems lists, in order and without recursion, the operands of the
// chain of binary commands rooted at s whose operators satisfy same.
func chainItems(s *syntax.Stmt, same func(syntax.BinCmdOperator) bool) []*syntax.Stmt {
	var out []*syntax.Stmt
	stack := []*syntax.Stmt{s}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		b, ok := x.Cmd.(*syntax.BinaryCmd)
		if ok && same(b.Op) && (x == s || len(x.Redirs) == 0 && !x.Background && !x.Negated) {
			stack = append(stack, b.Y, b.X)
			continue
		}
		out = append(out, x)
	}
	return out
}

// balancedPipe builds a pipeline of the stages whose depth is logarithmic.
func balancedPipe(stages []*syntax.Stmt, op syntax.BinCmdOperator, built map[*syntax.Stmt]bool) *syntax.Stmt {
	if len(stages) == 1 {
		return stages[0]
	}
	mid := len(stages) / 2
	x, y := balancedPipe(stages[:mid], op, built), balancedPipe(stages[mid:], op, built)
	s := &syntax.Stmt{Position: x.Pos(), Cmd: &syntax.BinaryCmd{Op: op, OpPos: y.Pos(), X: x, Y: y}}
	built[s] = true
	return s
}
