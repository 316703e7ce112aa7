package risk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// shAnalyzer walks one shell script (bash dialect).
type shAnalyzer struct {
	ctx        context.Context
	r          *report
	depth      int
	vars       map[string]shWord // values of assigned variables, in order
	assigned   map[string]bool   // every name the script assigns anywhere
	funcs      map[string]bool
	inFunc     []string
	loops      []bool
	downloaded map[string]bool
	bg, inPipe bool
	tcpFD      bool // the shell holds a /dev/tcp connection open
	stmts      int
	// positional parameters, when known: set by `set --` or by the
	// arguments of a function call being judged
	pos        []shWord
	posKnown   bool
	funcBodies map[string]*syntax.Stmt
	calling    map[string]bool // functions being judged at a call site
	funcCalls  int             // call sites judged so far, bounded
	lastCmd    string          // the base name of the last command judged
	pipeInput  shWord          // what the previous pipeline stage lists, when it is a root outside
}

// shWord is what the analysis knows about one expanded word.
type shWord struct {
	s        string // the text, or the literal prefix when !known
	known    bool
	computed bool // some of the text came from a variable
	net      bool // it holds the output of a download
	decoded  bool
	input    bool
}

func analyzeShell(ctx context.Context, src []byte) (*report, bool) {
	r := newReport(src)
	return r, judgeShell(ctx, r, src, 0)
}

func newShAnalyzer(ctx context.Context, r *report, depth int) *shAnalyzer {
	return &shAnalyzer{ctx: ctx, r: r, depth: depth, vars: map[string]shWord{}, assigned: map[string]bool{},
		funcs: map[string]bool{}, downloaded: map[string]bool{}, funcBodies: map[string]*syntax.Stmt{},
		calling: map[string]bool{}}
}

// judgeShell analyses a script into r and reports whether it parsed. A
// script that does not parse is still judged line by line, so a blocked
// command next to a syntax error is still found.
func judgeShell(ctx context.Context, r *report, src []byte, depth int) bool {
	p := syntax.NewParser(syntax.Variant(syntax.LangBash))
	f, err := p.Parse(ctxReader{ctx, bytes.NewReader(src)}, "")
	if ctx.Err() != nil {
		return false // the caller reports the time budget
	}
	if err == nil {
		if flattenShell(f) {
			r.addAt("input.too-deep", 1, 1, "", "the script is nested too deeply to analyse in full; the rest is judged, and the whole needs approval")
		}
		a := newShAnalyzer(ctx, r, depth)
		a.collectNames(f)
		a.list(f.Stmts)
		return true
	}
	line, col := 1, 1
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		line, col = int(pe.Pos.Line()), int(pe.Pos.Col())
	}
	r.addAt("parse.error", line, col, "", "this is not valid bash, so it cannot be judged in full")
	a := newShAnalyzer(ctx, r, depth)
	for i, l := range bytes.Split(src, []byte("\n")) {
		lf, err := p.Parse(bytes.NewReader(l), "")
		if err != nil || ctx.Err() != nil {
			continue
		}
		if flattenShell(lf) {
			r.addAt("input.too-deep", i+1, 1, "", "the script is nested too deeply to analyse in full; the rest is judged, and the whole needs approval")
		}
		sub := r.nested(nil, i+1, 1)
		if r.at != nil {
			sub = r
		} else {
			sub.at.Excerpt = r.excerpt(i + 1)
		}
		la := *a
		la.r = sub
		la.collectNames(lf)
		la.list(lf.Stmts)
		if sub != r {
			for j := range sub.findings {
				sub.findings[j].Reason = strings.TrimPrefix(sub.findings[j].Reason, "in the code or command it runs: ")
			}
			r.merge(sub)
		}
	}
	return false
}

// ctxReader stops the shell parser, which reads its input in pieces, once
// the analysis's context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// judgeArgv judges one command given as a list of words (from Python's
// subprocess or Go's exec.Command); known is false when some are computed.
func judgeArgv(ctx context.Context, r *report, words []string, known bool, depth int) {
	a := newShAnalyzer(ctx, r, depth)
	ws := make([]shWord, len(words))
	for i, w := range words {
		ws[i] = shWord{s: w, known: known || w != ""}
	}
	if len(ws) > 0 {
		a.command(1, 1, ws, nil)
	}
}

// collectNames records every variable the script assigns, so a use of any
// other name is known to read the environment.
func (a *shAnalyzer) collectNames(f *syntax.File) {
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Assign:
			if n.Name != nil {
				a.assigned[n.Name.Value] = true
			}
		case *syntax.WordIter:
			if n.Name != nil {
				a.assigned[n.Name.Value] = true
			}
		case *syntax.CallExpr:
			if len(n.Args) > 1 {
				switch n.Args[0].Lit() {
				case "read", "mapfile", "readarray", "getopts", "printf":
					for _, w := range n.Args[1:] {
						if l := w.Lit(); l != "" && !strings.HasPrefix(l, "-") {
							a.assigned[l] = true
						}
					}
				}
			}
		}
		return true
	})
}

func (a *shAnalyzer) add(line, col int, rule, reason string) {
	a.r.addAt(rule, line, col, "", reason)
}

func (a *shAnalyzer) list(stmts []*syntax.Stmt) {
	for _, s := range stmts {
		a.stmt(s)
	}
}

func (a *shAnalyzer) stmt(s *syntax.Stmt) {
	if s == nil {
		return
	}
	a.stmts++
	if a.stmts&255 == 0 && a.ctx.Err() != nil {
		return
	}
	line, col := int(s.Pos().Line()), int(s.Pos().Col())
	if s.Background {
		if a.inUnboundedLoop() {
			a.add(line, col, "destroy.fork-bomb", "starts background jobs in a loop or recursion without a bound")
		} else {
			a.add(line, col, "concurrency.bounded", "starts a background job")
		}
	}
	outer := a.bg
	a.bg = a.bg || s.Background
	defer func() { a.bg = outer }()
	for _, rd := range s.Redirs {
		a.redirect(s, rd)
	}
	a.dispatch(s, line, col)
}

// dispatch judges the command a statement holds, by its kind.
func (a *shAnalyzer) dispatch(s *syntax.Stmt, line, col int) {
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		a.call(s, c)
	case *syntax.BinaryCmd:
		if c.Op == syntax.Pipe || c.Op == syntax.PipeAll {
			a.pipeline(s)
			return
		}
		a.stmt(c.X)
		a.stmt(c.Y)
	case *syntax.IfClause:
		for ic := c; ic != nil; ic = ic.Else {
			a.list(ic.Cond)
			a.list(ic.Then)
		}
	case *syntax.WhileClause:
		a.list(c.Cond)
		a.loop(a.endless(c), c.Do)
	case *syntax.ForClause:
		a.forLoop(c, line, col)
	case *syntax.CaseClause:
		a.word(c.Word, line, col)
		for _, it := range c.Items {
			a.list(it.Stmts)
		}
	case *syntax.Block:
		a.list(c.Stmts)
	case *syntax.Subshell:
		a.list(c.Stmts)
	case *syntax.FuncDecl:
		a.function(c)
	case *syntax.DeclClause:
		for _, as := range c.Args {
			a.assign(as, line, col, c.Variant != nil && c.Variant.Value == "export")
		}
	case *syntax.TimeClause:
		a.stmt(c.Stmt)
	case *syntax.CoprocClause:
		a.stmt(c.Stmt)
	case nil:
	default:
		a.substs(s.Cmd, line, col)
	}
}

func (a *shAnalyzer) forLoop(c *syntax.ForClause, line, col int) {
	unbounded := false
	switch l := c.Loop.(type) {
	case *syntax.WordIter:
		for _, w := range l.Items {
			a.word(w, line, col)
		}
		if l.Name != nil {
			a.vars[l.Name.Value] = shWord{}
		}
	case *syntax.CStyleLoop:
		unbounded = l.Cond == nil
	}
	a.loop(unbounded, c.Do)
}

func (a *shAnalyzer) function(c *syntax.FuncDecl) {
	name := ""
	if c.Name != nil {
		name = c.Name.Value
	}
	a.funcs[name] = true
	a.funcBodies[name] = c.Body
	a.inFunc = append(a.inFunc, name)
	outerLoops := a.loops
	a.loops = nil
	if callsSelf(c.Body, name) {
		a.loops = []bool{true} // recursion repeats the body without a bound
	}
	a.stmt(c.Body)
	a.loops = outerLoops
	a.inFunc = a.inFunc[:len(a.inFunc)-1]
}

// endless reports a while loop whose condition is a constant truth.
func (a *shAnalyzer) endless(c *syntax.WhileClause) bool {
	if len(c.Cond) != 1 {
		return false
	}
	call, ok := c.Cond[0].Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return false
	}
	name := call.Args[0].Lit()
	if c.Until {
		return name == "false"
	}
	return name == "true" || name == ":" || (name == "[" && len(call.Args) == 3 && call.Args[1].Lit() == "1")
}

func (a *shAnalyzer) loop(unbounded bool, body []*syntax.Stmt) {
	a.loops = append(a.loops, unbounded)
	a.list(body)
	a.loops = a.loops[:len(a.loops)-1]
}

func (a *shAnalyzer) inUnboundedLoop() bool {
	for _, u := range a.loops {
		if u {
			return true
		}
	}
	return false
}

// substs analyses the command and process substitutions inside node.
func (a *shAnalyzer) substs(node syntax.Node, line, col int) {
	syntax.Walk(node, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.CmdSubst:
			a.list(n.Stmts)
			return false
		case *syntax.ProcSubst:
			a.list(n.Stmts)
			return false
		case *syntax.ParamExp:
			if n.Param != nil {
				a.paramRead(n.Param.Value, line, col)
			}
		}
		return true
	})
}

// envTamperVars change what child processes load.
var envTamperVars = setOf("PATH LD_PRELOAD LD_LIBRARY_PATH PYTHONPATH LD_AUDIT BASH_ENV ENV PROMPT_COMMAND")

func (a *shAnalyzer) assign(as *syntax.Assign, line, col int, export bool) {
	if as.Name == nil {
		return
	}
	name := as.Name.Value
	var v shWord
	if as.Value != nil {
		v = a.word(as.Value, line, col)
	} else if as.Array != nil {
		a.substs(as.Array, line, col)
	}
	if as.Naked {
		v = a.vars[name]
	}
	a.vars[name] = v
	if envTamperVars[name] && (export || name == "PATH" || name == "PROMPT_COMMAND") {
		a.add(line, col, "env.tamper", "changes "+name+", which decides what child processes load and run")
	}
}

// callsSelf reports whether body runs the function name.
func callsSelf(body *syntax.Stmt, name string) bool {
	found := false
	syntax.Walk(body, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 && c.Args[0].Lit() == name {
			found = true
		}
		return !found
	})
	return found
}
