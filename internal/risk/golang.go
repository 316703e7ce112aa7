package risk

import (
	"context"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"path"
	"strconv"
	"strings"
)

// goAnalyzer walks one Go file. Names are tracked in one flat scope, which
// is enough to follow a constant or a decoded payload through a function.
type goAnalyzer struct {
	ctx       context.Context
	r         *report
	fset      *token.FileSet
	depth     int
	imports   map[string]string // local name → import path
	netFunc   map[string]bool   // functions of this file that download
	env       map[string]gval
	loops     []ast.Node // enclosing for statements without a condition
	stack     []ast.Node
	callees   map[ast.Expr]bool // the function expressions of calls seen
	evalDepth int               // nesting of eval, bounded by maxTreeDepth
	tooDeep   bool              // a subtree was skipped for its depth
	// facts for rules that need several statements
	socketAt, shellAt, envWriteAt, spawnAt token.Pos
}

// gval is what the analysis knows about a Go expression's value.
type gval struct {
	s       string
	known   bool
	num     int64
	isNum   bool
	list    []gval
	isList  bool
	qual    string // "os/exec.Command"
	decoded bool
	input   bool
	net     bool
}

func (v gval) taintOf(vs ...gval) gval {
	for _, x := range vs {
		v.decoded, v.input, v.net = v.decoded || x.decoded, v.input || x.input, v.net || x.net
		for _, e := range x.list {
			v.decoded, v.input, v.net = v.decoded || e.decoded, v.input || e.input, v.net || e.net
		}
	}
	return v
}

func analyzeGo(ctx context.Context, src []byte) (*report, bool) {
	r := newReport(src)
	return r, judgeGo(ctx, r, src, 0)
}

func judgeGo(ctx context.Context, r *report, src []byte, depth int) bool {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.SkipObjectResolution|parser.ParseComments)
	if err != nil {
		line, col := 1, 1
		if el, ok := err.(scanner.ErrorList); ok && len(el) > 0 {
			line, col = el[0].Pos.Line, el[0].Pos.Column
		}
		r.addAt("parse.error", line, col, "", "this is not valid Go, so it cannot be judged in full")
	}
	if f == nil {
		return false
	}
	a := &goAnalyzer{ctx: ctx, r: r, fset: fset, depth: depth, imports: map[string]string{},
		env: map[string]gval{}, netFunc: map[string]bool{}, callees: map[ast.Expr]bool{}}
	a.importDecls(f)
	a.findNetFuncs(f)
	ast.Inspect(f, a.visit)
	a.crossRules()
	if a.tooDeep {
		r.addAt("input.too-deep", 1, 1, "", "the code is nested too deeply to analyse in full; the rest is judged, and the whole needs approval")
	}
	return err == nil
}

func (a *goAnalyzer) add(pos token.Pos, rule, reason string) {
	p := a.fset.Position(pos)
	a.r.addAt(rule, p.Line, p.Column, "", reason)
}

func (a *goAnalyzer) importDecls(f *ast.File) {
	for _, is := range f.Imports {
		p, err := strconv.Unquote(is.Path.Value)
		if err != nil {
			continue
		}
		name := goPackageName(p)
		if is.Name != nil {
			name = is.Name.Name
		}
		a.imports[name] = p
		a.judgeImport(is.Pos(), p)
	}
}

// goPackageName guesses a package's name from its path ("gopkg.in/yaml.v3"
// is yaml, "github.com/x/y/v2" is y).
func goPackageName(p string) string {
	base := path.Base(p)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		base = path.Base(path.Dir(p))
	}
	if i := strings.Index(base, ".v"); i > 0 {
		base = base[:i]
	}
	return strings.TrimPrefix(base, "go-")
}

func (a *goAnalyzer) judgeImport(pos token.Pos, p string) {
	switch {
	case p == "C":
		a.add(pos, "native.code", "uses cgo to call C code")
	case p == "unsafe" || p == "syscall" || p == "plugin" || strings.HasPrefix(p, "golang.org/x/sys/"):
		a.add(pos, "native.code", "imports "+p+", which bypasses Go's safety checks")
	case strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && goThirdPartyModelled(p):
		a.add(pos, "import.third-party", "imports "+p+", a package outside the standard library")
	case strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
		a.add(pos, "model.unknown", "imports "+p+", a package the analyser does not model")
	}
}

func (a *goAnalyzer) visit(n ast.Node) bool {
	if n == nil {
		top := a.stack[len(a.stack)-1]
		a.stack = a.stack[:len(a.stack)-1]
		if len(a.loops) > 0 && a.loops[len(a.loops)-1] == top {
			a.loops = a.loops[:len(a.loops)-1]
		}
		return false
	}
	if len(a.stack)&255 == 0 && a.ctx.Err() != nil {
		return false
	}
	if len(a.stack) >= maxTreeDepth {
		a.tooDeep = true
		return false
	}
	a.stack = append(a.stack, n)
	switch n := n.(type) {
	case *ast.ForStmt:
		if n.Cond == nil {
			a.loops = append(a.loops, n)
		}
	case *ast.AssignStmt:
		a.assign(n.Lhs, n.Rhs)
	case *ast.ValueSpec:
		lhs := make([]ast.Expr, len(n.Names))
		for i, id := range n.Names {
			lhs[i] = id
		}
		a.assign(lhs, n.Values)
	case *ast.GoStmt:
		if len(a.loops) > 0 {
			a.add(n.Pos(), "concurrency.unbounded-threads", "starts goroutines in a loop without a bound")
		} else {
			a.add(n.Pos(), "concurrency.bounded", "starts a goroutine")
		}
	case *ast.CallExpr:
		a.callees[n.Fun] = true
		a.call(n)
		a.methodCall(n)
	case *ast.SelectorExpr, *ast.Ident:
		a.funcValue(n.(ast.Expr))
	case *ast.CompositeLit:
		a.cmdLiteral(n)
	}
	return true
}

func (a *goAnalyzer) assign(lhs, rhs []ast.Expr) {
	for i, l := range lhs {
		id, ok := l.(*ast.Ident)
		if !ok {
			if sel, ok := l.(*ast.SelectorExpr); ok && len(rhs) > 0 {
				if v := a.eval(rhs[min(i, len(rhs)-1)]); v.net && (sel.Sel.Name == "Stdin" || sel.Sel.Name == "Stdout") {
					a.socketAt = sel.Pos()
				}
			}
			continue
		}
		switch {
		case len(rhs) == len(lhs):
			a.env[id.Name] = a.eval(rhs[i])
		case len(rhs) == 1 && i == 0:
			a.env[id.Name] = a.eval(rhs[0])
		default:
			a.env[id.Name] = gval{}
		}
	}
}

func (a *goAnalyzer) crossRules() {
	if a.socketAt.IsValid() && a.shellAt.IsValid() {
		a.add(a.shellAt, "shell.reverse", "connects a shell to a network connection: a reverse shell")
	}
	if a.envWriteAt.IsValid() && a.spawnAt.IsValid() {
		a.add(a.envWriteAt, "env.tamper", "changes the environment of the child processes it starts")
	}
}

// qual returns the import-path-qualified name an expression refers to.
func (a *goAnalyzer) qual(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		if p, ok := a.imports[e.Name]; ok {
			return p
		}
		if v, ok := a.env[e.Name]; ok {
			return v.qual
		}
	case *ast.SelectorExpr:
		if q := a.qual(e.X); q != "" {
			return q + "." + e.Sel.Name
		}
	case *ast.ParenExpr:
		return a.qual(e.X)
	}
	return ""
}

// findNetFuncs marks the file's functions that make network requests, so
// that what they return counts as downloaded data.
func (a *goAnalyzer) findNetFuncs(f *ast.File) {
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil || fd.Recv != nil {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				q := a.qual(c.Fun)
				if strings.HasPrefix(q, "net/http.") || strings.HasPrefix(q, "net.Dial") {
					a.netFunc[fd.Name.Name] = true
				}
			}
			return !a.netFunc[fd.Name.Name]
		})
	}
}
