package risk

import (
	"go/ast"
	"go/token"
	"path"
	"strconv"
	"strings"
)

// eval folds an expression without reporting anything.
func (a *goAnalyzer) eval(e ast.Expr) gval {
	if a.evalDepth >= maxTreeDepth {
		a.tooDeep = true
		return gval{}
	}
	a.evalDepth++
	defer func() { a.evalDepth-- }()
	switch e := e.(type) {
	case *ast.BasicLit:
		return goLit(e)
	case *ast.Ident:
		if v, ok := a.env[e.Name]; ok {
			return v
		}
		if p, ok := a.imports[e.Name]; ok {
			return gval{qual: p}
		}
	case *ast.ParenExpr:
		return a.eval(e.X)
	case *ast.BinaryExpr:
		return a.binary(e)
	case *ast.SelectorExpr:
		return a.selector(e)
	case *ast.IndexExpr:
		x := a.eval(e.X)
		if i := a.eval(e.Index); x.isList && i.isNum && i.num >= 0 && int(i.num) < len(x.list) {
			return x.list[i.num]
		}
		return gval{}.taintOf(x)
	case *ast.SliceExpr:
		return gval{}.taintOf(a.eval(e.X))
	case *ast.CompositeLit:
		v := gval{isList: true}
		for _, el := range e.Elts {
			v.list = append(v.list, a.eval(el))
		}
		return v
	case *ast.CallExpr:
		return a.evalCall(e)
	case *ast.StarExpr:
		return a.eval(e.X)
	case *ast.UnaryExpr:
		return a.eval(e.X)
	}
	return gval{}
}

func goLit(e *ast.BasicLit) gval {
	switch e.Kind {
	case token.STRING, token.CHAR:
		s, err := strconv.Unquote(e.Value)
		if err != nil {
			return gval{}
		}
		if e.Kind == token.CHAR {
			r := []rune(s)
			if len(r) == 1 {
				return gval{num: int64(r[0]), isNum: true}
			}
		}
		return gval{s: s, known: true}
	case token.INT, token.FLOAT:
		if n, ok := parseInt(e.Value); ok {
			return gval{num: n, isNum: true}
		}
	}
	return gval{}
}

// goDurations are the time package's unit constants, in nanoseconds.
var goDurations = map[string]int64{
	"time.Nanosecond": 1, "time.Microsecond": 1e3, "time.Millisecond": 1e6,
	"time.Second": 1e9, "time.Minute": 60e9, "time.Hour": 3600e9,
}

func (a *goAnalyzer) selector(e *ast.SelectorExpr) gval {
	q := a.qual(e)
	if d, ok := goDurations[q]; ok {
		return gval{num: d, isNum: true}
	}
	if c, ok := goConsts[q]; ok {
		return gval{num: c, isNum: true}
	}
	if q == "os.Args" || q == "os.Stdin" {
		return gval{input: true, qual: q}
	}
	x := a.eval(e.X)
	if q != "" {
		return gval{qual: q}.taintOf(x)
	}
	return gval{}.taintOf(x)
}

func (a *goAnalyzer) binary(e *ast.BinaryExpr) gval {
	l, r := a.eval(e.X), a.eval(e.Y)
	switch {
	case e.Op == token.ADD && l.known && r.known && len(l.s)+len(r.s) > maxFolded:
		return gval{s: l.s[:min(len(l.s), maxFolded)]}.taintOf(l, r)
	case e.Op == token.ADD && l.known && r.known:
		return gval{s: l.s + r.s, known: true}.taintOf(l, r)
	case e.Op == token.ADD && l.isNum && r.isNum:
		return gval{num: l.num + r.num, isNum: true}
	case e.Op == token.MUL && l.isNum && r.isNum:
		if l.num > 1<<31 && r.num > 1<<31 {
			return gval{num: 1 << 62, isNum: true}
		}
		return gval{num: l.num * r.num, isNum: true}
	case e.Op == token.SHL && l.isNum && r.isNum && r.num >= 0 && r.num < 62:
		return gval{num: l.num << r.num, isNum: true}
	case e.Op == token.ADD && l.known:
		return gval{s: l.s}.taintOf(l, r)
	}
	return gval{}.taintOf(l, r)
}

// evalCall folds the calls that build or decode strings.
func (a *goAnalyzer) evalCall(e *ast.CallExpr) gval {
	q := a.qual(e.Fun)
	args := make([]gval, len(e.Args))
	for i, x := range e.Args {
		args[i] = a.eval(x)
	}
	switch {
	case q == "fmt.Sprintf" && len(args) > 0 && args[0].known:
		if s, ok := goSprintf(args[0].s, args[1:]); ok {
			return gval{s: s, known: true}.taintOf(args...)
		}
	case q == "strings.Join" && len(args) == 2 && args[0].isList && args[1].known:
		parts := make([]string, 0, len(args[0].list))
		for _, p := range args[0].list {
			if !p.known {
				return gval{}.taintOf(args...)
			}
			parts = append(parts, p.s)
		}
		return gval{s: strings.Join(parts, args[1].s), known: true}
	case q == "path/filepath.Join" || q == "path.Join":
		parts := make([]string, len(args))
		known := true
		for i, x := range args {
			parts[i] = x.s
			if !x.known {
				parts[i], known = "?", false
			}
		}
		return gval{s: path.Join(parts...), known: known}.taintOf(args...)
	case isGoDecoder(q):
		v := gval{decoded: true}
		if len(args) > 0 {
			if s, ok := decodeConst(strings.ToLower(q), pval{str: args[0].s, isStr: args[0].known}, ""); ok {
				v.s, v.known = s, true
			}
		}
		return v
	case q == "os.UserHomeDir":
		return gval{s: "~", known: true}
	case (q == "os.Getenv" || q == "os.LookupEnv") && len(args) > 0 && args[0].known && args[0].s == "HOME":
		return gval{s: "~", known: true, input: true}
	case q == "os.ExpandEnv" && len(args) > 0 && args[0].known:
		return gval{s: args[0].s, known: true, input: true}
	case q == "os.Getenv" || q == "os.LookupEnv" || q == "bufio.Scanner.Text":
		return gval{input: true}
	case strings.HasPrefix(q, "net/http.") || strings.HasPrefix(q, "net.Dial") || q == "net.Listen":
		return gval{net: true, qual: q + "()"}
	}
	if id, ok := e.Fun.(*ast.Ident); ok && a.netFunc[id.Name] {
		return gval{net: true}.taintOf(args...)
	}
	if id, ok := e.Fun.(*ast.Ident); ok && (id.Name == "string" || id.Name == "[]byte") && len(args) == 1 {
		return goString(args[0])
	}
	if _, ok := e.Fun.(*ast.ArrayType); ok && len(args) == 1 {
		return args[0]
	}
	if q != "" {
		return gval{qual: q + "()"}.taintOf(args...)
	}
	var recv gval
	if sel, ok := e.Fun.(*ast.SelectorExpr); ok {
		recv = a.eval(sel.X)
	}
	return gval{}.taintOf(append(args, recv)...)
}

// goString folds string(x) of a constant: a rune, or a slice of bytes or
// runes written as a literal.
func goString(v gval) gval {
	switch {
	case v.isNum && v.num >= 0 && v.num < 0x110000:
		return gval{s: string(rune(v.num)), known: true}
	case v.isList:
		var b strings.Builder
		for _, e := range v.list {
			if !e.isNum || e.num < 0 || e.num >= 0x110000 {
				return v
			}
			if e.num < 0x80 {
				b.WriteByte(byte(e.num))
			} else {
				b.WriteRune(rune(e.num))
			}
		}
		return gval{s: b.String(), known: true}.taintOf(v)
	}
	return v
}

func isGoDecoder(q string) bool {
	return strings.HasPrefix(q, "encoding/base64.") && strings.HasSuffix(q, "DecodeString") ||
		q == "encoding/hex.DecodeString" || strings.HasPrefix(q, "compress/") && strings.HasSuffix(q, "NewReader")
}

// goSprintf folds a format whose verbs all have known arguments.
func goSprintf(format string, args []gval) (string, bool) {
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 >= len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if next >= len(args) {
			return "", false
		}
		v := args[next]
		next++
		switch {
		case v.known:
			b.WriteString(v.s)
		case v.isNum:
			b.WriteString(strconv.FormatInt(v.num, 10))
		default:
			return "", false
		}
	}
	return b.String(), true
}
