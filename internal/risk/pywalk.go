package risk

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyAnalyzer walks one Python module. Names are tracked in one flat scope:
// enough to follow an alias or an assigned callable through a short script,
// and cheap.
type pyAnalyzer struct {
	ctx   context.Context
	src   []byte
	r     *report
	env   map[string]pval
	star  []string // modules imported with "from m import *"
	loops []bool   // for each enclosing loop, whether it is unbounded
	depth int      // nesting of code strings judged inline
	// facts for rules that need several statements
	socketAt, dup2At, shellAt *pnode
	envWriteAt, spawnAt       *pnode
	nodes                     int
	sawNet                    bool            // a network request since the flag was cleared
	netFuncs                  map[string]bool // local functions that make network requests
	invalid                   bool            // Python 3 would reject what tree-sitter accepted
	forkFuncs                 map[string]bool // local functions and lambdas that start processes
	forked                    bool            // a process was started since the flag was cleared
	breakpointHook            bool            // the code sets PYTHONBREAKPOINT
	unrolled                  int             // loops being judged element by element
	class                     string          // the class whose body is being judged
}

// maxInlineDepth bounds how deep code strings inside code strings are judged.
const maxInlineDepth = 4

func analyzePython(ctx context.Context, src []byte) (*report, bool) {
	r := newReport(src)
	return r, judgePython(ctx, r, src, 0)
}

// judgePython analyses src into r and reports whether it parsed.
func judgePython(ctx context.Context, r *report, src []byte, depth int) bool {
	root, ok, pruned := parsePython(ctx, src)
	if root == nil {
		r.addAt("parse.error", 1, 1, "", "the code could not be parsed within the analysis limits (time)")
		return false
	}
	if pruned {
		r.addAt("input.too-deep", 1, 1, "", "the code is nested too deeply to analyse in full; the rest is judged, and the whole needs approval")
	}
	if !utf8.Valid(src) && !declaresEncoding(src) {
		r.addAt("parse.error", 1, 1, "", "the code is not valid UTF-8, which Python 3 rejects, so it cannot be judged in full")
		ok = false
	}
	a := &pyAnalyzer{ctx: ctx, src: src, r: r, env: map[string]pval{}, depth: depth, netFuncs: map[string]bool{},
		forkFuncs: map[string]bool{}}
	a.block(root)
	a.crossRules()
	if !ok {
		n := firstError(root)
		r.addAt("parse.error", n.line, n.col, "", "this is not valid Python 3, so it cannot be judged in full")
	}
	return ok && !a.invalid
}

// declaresEncoding reports a PEP 263 coding declaration on the first two
// lines: Python then decodes the file with that codec, not as UTF-8.
func declaresEncoding(src []byte) bool {
	for i, line := range bytes.SplitN(src, []byte("\n"), 3) {
		if i < 2 && bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) && codingDecl.Match(line) {
			return true
		}
	}
	return false
}

var codingDecl = regexp.MustCompile(`coding[:=][ \t]*[-\w.]+`)

func firstError(root *pnode) *pnode {
	var find func(n *pnode) *pnode
	find = func(n *pnode) *pnode {
		if n.kind == "ERROR" || (n.start == n.end && len(n.kids) == 0 && n.parent != nil) {
			return n
		}
		for _, k := range n.kids {
			if e := find(k); e != nil {
				return e
			}
		}
		return nil
	}
	if e := find(root); e != nil {
		return e
	}
	return root
}

func (a *pyAnalyzer) text(n *pnode) string {
	if n == nil {
		return ""
	}
	return string(a.src[n.start:n.end])
}

func (a *pyAnalyzer) add(n *pnode, rule, reason string) {
	a.r.addAt(rule, n.line, n.col, "", reason)
}

// block visits every child of n as a statement.
func (a *pyAnalyzer) block(n *pnode) {
	for _, k := range n.kids {
		if k.named {
			a.stmt(k)
		}
	}
}

func (a *pyAnalyzer) stmt(n *pnode) {
	a.nodes++
	if a.nodes&1023 == 0 && a.ctx.Err() != nil {
		return
	}
	switch n.kind {
	case "import_statement":
		a.importStmt(n)
	case "import_from_statement":
		a.importFrom(n)
	case "expression_statement":
		for _, k := range n.namedKids() {
			a.exprStmt(k)
		}
	case "for_statement":
		it := a.eval(n.child("right"))
		unbounded := !a.boundedIter(n.child("right"), it)
		a.forEach(n.child("left"), it, func() { a.loop(unbounded, n.child("body"), nil) })
		if alt := n.child("alternative"); alt != nil {
			a.stmt(alt)
		}
	case "while_statement":
		cond := a.eval(n.child("condition"))
		a.loop(truthyConst(cond, a.text(n.child("condition"))), n.child("body"), n.child("alternative"))
	case "function_definition":
		a.function(n)
	case "return_statement":
		for _, k := range n.namedKids() {
			a.valueUse(n, a.eval(k), nil)
		}
	case "class_definition":
		a.classDef(n)
	case "print_statement", "exec_statement":
		// tree-sitter accepts Python 2 statements; Python 3 does not.
		a.invalid = true
		a.add(n, "parse.error", "this is Python 2 syntax, which Python 3 cannot run")
		a.generic(n)
	case "block":
		if !hasStatement(n) {
			a.invalid = true
			a.add(n, "parse.error", "an indented block is missing, which Python 3 rejects")
		}
		a.generic(n)
	case "comment", "pass_statement", "break_statement", "continue_statement",
		"future_import_statement", "global_statement", "nonlocal_statement":
	default:
		a.generic(n)
	}
}

// generic visits a node it has no rule for: statement blocks as statements,
// everything else as expressions, so nothing nested is skipped.
func (a *pyAnalyzer) generic(n *pnode) {
	for _, k := range n.kids {
		if !k.named {
			continue
		}
		switch {
		case k.kind == "block" || strings.HasSuffix(k.kind, "_statement") ||
			strings.HasSuffix(k.kind, "_clause") || strings.HasSuffix(k.kind, "_definition") ||
			k.kind == "ERROR" || k.kind == "decorated_definition" || k.kind == "case_clause":
			a.stmt(k)
		default:
			a.eval(k)
		}
	}
}

func (a *pyAnalyzer) loop(unbounded bool, body, alt *pnode) {
	a.loops = append(a.loops, unbounded)
	if body != nil {
		a.stmt(body)
	}
	a.loops = a.loops[:len(a.loops)-1]
	if alt != nil {
		a.stmt(alt)
	}
}

func (a *pyAnalyzer) inUnboundedLoop() bool {
	for _, u := range a.loops {
		if u {
			return true
		}
	}
	return false
}

func truthyConst(v pval, text string) bool {
	switch {
	case text == "True":
		return true
	case v.isNum:
		return v.num != 0
	case v.isStr:
		return v.str != ""
	}
	return false
}

// boundedIter reports whether a for loop's iterable is finite: anything
// but the itertools generators that never stop.
func (a *pyAnalyzer) boundedIter(n *pnode, v pval) bool {
	if n != nil && n.kind == "call" {
		f := a.eval(n.child("function"))
		if args := n.child("arguments").namedKids(); f.qual == "builtins.iter" && len(args) == 2 {
			fn := args[0]
			_, bound := a.env[a.text(fn)]
			return !(fn.kind == "identifier" && pyNeverEnds[a.text(fn)] && !bound || fn.kind == "lambda" && constLambda(fn))
		}
		switch f.qual {
		case "itertools.count", "itertools.cycle":
			return false
		case "itertools.repeat":
			return len(n.child("arguments").namedKids()) > 1
		}
	}
	return true
}

// maxUnroll bounds the elements of a literal list a loop is judged for,
// one by one, and maxUnrollDepth the loops so judged inside each other.
const (
	maxUnroll      = 8
	maxUnrollDepth = 2
)

// forEach runs judge with the loop target bound to each element of a short
// literal iterable in turn (so for c in ["rm -rf /"]: os.system(c) is
// seen), or once with the target bound to an unknown element.
func (a *pyAnalyzer) forEach(target *pnode, it pval, judge func()) {
	if it.isList && len(it.list) > 0 && len(it.list) <= maxUnroll && a.unrolled < maxUnrollDepth {
		a.unrolled++
		for _, e := range it.list {
			a.assign(target, e, nil)
			judge()
		}
		a.unrolled--
		return
	}
	a.assign(target, pval{}.withTaint(it), nil)
	judge()
}

// comprehension judges [expr for x in it if cond] with its targets bound
// as a for loop's would be.
func (a *pyAnalyzer) comprehension(n *pnode) pval {
	var clauses []*pnode
	var body []*pnode
	for _, k := range n.namedKids() {
		switch k.kind {
		case "for_in_clause":
			clauses = append(clauses, k)
		default:
			body = append(body, k)
		}
	}
	var run func(i int)
	run = func(i int) {
		if i == len(clauses) {
			for _, b := range body {
				a.eval(b)
			}
			return
		}
		c := clauses[i]
		it := a.eval(c.child("right"))
		a.forEach(c.child("left"), it, func() { run(i + 1) })
	}
	run(0)
	return pval{}
}

// constLambda reports a lambda without parameters whose body is a literal.
func constLambda(n *pnode) bool {
	b := n.child("body")
	return n.child("parameters") == nil && b != nil && (b.kind == "integer" || b.kind == "string" ||
		b.kind == "true" || b.kind == "false" || b.kind == "none" || b.kind == "float")
}

func (a *pyAnalyzer) function(n *pnode) {
	saved := map[string]pval{}
	had := map[string]bool{}
	if ps := n.child("parameters"); ps != nil {
		for _, p := range ps.namedKids() {
			name := a.text(p)
			if id := p.child("name"); id != nil {
				name = a.text(id)
			} else if p.kind != "identifier" && len(p.namedKids()) > 0 && p.namedKids()[0].kind == "identifier" {
				name = a.text(p.namedKids()[0])
			}
			saved[name], had[name] = a.env[name]
			a.env[name] = pval{}
		}
	}
	outer, outerNet, outerFork := a.loops, a.sawNet, a.forked
	a.loops, a.sawNet, a.forked = nil, false, false
	if b := n.child("body"); b != nil {
		// a function that calls itself repeats its body without a bound
		if name := n.child("name"); name != nil && a.callsItself(b, a.text(name)) {
			a.loops = []bool{true}
		}
		a.stmt(b)
	}
	if name := n.child("name"); name != nil && a.sawNet {
		a.netFuncs["local."+a.text(name)] = true
	}
	if name := n.child("name"); name != nil && a.forked {
		a.forkFuncs["local."+a.text(name)] = true
	}
	a.loops, a.sawNet, a.forked = outer, outerNet || a.sawNet, outerFork || a.forked
	for name := range saved {
		if had[name] {
			a.env[name] = saved[name]
		} else {
			delete(a.env, name)
		}
	}
	if name := n.child("name"); name != nil {
		a.env[a.text(name)] = pval{qual: "local." + a.text(name)}
	}
}

// exprStmt handles an expression used as a statement, assignments included.
func (a *pyAnalyzer) exprStmt(n *pnode) {
	switch n.kind {
	case "assignment":
		right := n.child("right")
		var v pval
		if right != nil {
			v = a.eval(right)
		}
		a.assign(n.child("left"), v, right)
	case "augmented_assignment":
		left := n.child("left")
		v := a.eval(n.child("right"))
		old := a.eval(left)
		if a.text(n.child("operator")) == "+=" {
			v = concat(old, v)
		}
		a.assign(left, v, n.child("right"))
	default:
		a.eval(n)
	}
}

// assign binds names, and notices writes to the module search path, the
// builtins and the environment.
func (a *pyAnalyzer) assign(left *pnode, v pval, right *pnode) {
	if left == nil {
		return
	}
	switch left.kind {
	case "identifier":
		a.env[a.text(left)] = v
		if a.class != "" {
			// a class attribute, reached later as Class.name
			a.env[a.class+"."+a.text(left)] = v
		}
	case "pattern_list", "tuple_pattern", "list_pattern":
		for i, k := range left.namedKids() {
			var e pval
			if v.isList && i < len(v.list) {
				e = v.list[i]
			}
			a.assign(k, e.withTaint(v), nil)
		}
	case "attribute", "subscript":
		obj := left.child("object")
		if left.kind == "subscript" {
			obj = left.child("value")
		}
		ov := a.eval(obj)
		if left.kind == "subscript" {
			key := a.eval(left.child("subscript"))
			if ov.qual == "os.environ" && key.isStr && key.str == "PYTHONBREAKPOINT" {
				a.breakpointHook = true
			}
		}
		a.valueUse(left, v, nil)
		a.tamper(left, ov, a.text(left.child("attribute")))
	default:
		a.eval(left)
	}
}

// tamper judges an assignment to obj[...] or obj.attr.
func (a *pyAnalyzer) tamper(n *pnode, obj pval, attr string) {
	target := obj.qual
	if attr != "" && target != "" {
		target += "." + attr
	}
	switch {
	case target == "os.environ":
		a.envWrite(n)
	case target == "sys.path" || target == "sys.modules" || target == "sys.meta_path" ||
		strings.HasPrefix(target, "sys.path_hooks"):
		a.add(n, "env.tamper", "changes "+target+", which decides what code later imports run")
	case obj.qual == "builtins" || strings.HasPrefix(target, "builtins.") && !strings.Contains(target, "()"):
		a.add(n, "env.tamper", "replaces a builtin, changing what every later call does")
	}
}

func (a *pyAnalyzer) envWrite(n *pnode) {
	if a.envWriteAt == nil {
		a.envWriteAt = n
	}
}

// classDef judges a class statement: a metaclass other than the standard
// ones runs code of its own when the class is created.
func (a *pyAnalyzer) classDef(n *pnode) {
	if sup := n.child("superclasses"); sup != nil {
		for _, k := range sup.namedKids() {
			if k.kind != "keyword_argument" || a.text(k.child("name")) != "metaclass" {
				continue
			}
			switch m := a.eval(k.child("value")); m.qual {
			case "abc.ABCMeta", "enum.EnumMeta", "enum.EnumType":
			default:
				a.add(k, "model.unknown", "creates a class with a metaclass, which runs code the analyser does not model")
			}
		}
	}
	name := a.text(n.child("name"))
	outer := a.class
	a.class = "local.class." + name
	a.generic(n)
	a.class = outer
	a.env[name] = pval{qual: "local.class." + name}
}

// crossRules fire on combinations seen across the module.
func (a *pyAnalyzer) crossRules() {
	if a.socketAt != nil && a.shellAt != nil {
		at := a.shellAt
		if a.dup2At != nil {
			at = a.dup2At
		}
		a.add(at, "shell.reverse", "connects a shell to a network socket: a reverse or bind shell")
	}
	if a.envWriteAt != nil && a.spawnAt != nil {
		a.add(a.envWriteAt, "env.tamper", "changes the environment of the child processes it starts")
	}
}

func parseInt(text string) (int64, bool) {
	t := strings.ReplaceAll(strings.ToLower(text), "_", "")
	t = strings.TrimSuffix(t, "l")
	n, err := strconv.ParseInt(t, 0, 64)
	if err != nil {
		if f, err := strconv.ParseFloat(t, 64); err == nil && f < 1e18 && f > -1e18 {
			return int64(f), true
		}
		return 0, false
	}
	return n, true
}

func hasStatement(block *pnode) bool {
	for _, k := range block.kids {
		if k.named && k.kind != "comment" {
			return true
		}
	}
	return false
}

// callsItself reports whether body contains a call to name.
func (a *pyAnalyzer) callsItself(body *pnode, name string) bool {
	if body.kind == "call" {
		if f := body.child("function"); f != nil && f.kind == "identifier" && a.text(f) == name {
			return true
		}
	}
	for _, k := range body.kids {
		if k.named && a.callsItself(k, name) {
			return true
		}
	}
	return false
}
