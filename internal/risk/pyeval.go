package risk

import "strings"

// eval folds an expression as far as the analysis can, visiting every call
// inside it on the way.
func (a *pyAnalyzer) eval(n *pnode) pval {
	if n == nil {
		return pval{}
	}
	a.nodes++
	switch n.kind {
	case "identifier":
		return a.lookup(a.text(n))
	case "string":
		return a.str(n)
	case "concatenated_string":
		v := strVal("")
		for _, k := range n.namedKids() {
			v = concat(v, a.eval(k))
		}
		return v
	case "integer", "float":
		if x, ok := parseInt(a.text(n)); ok {
			return pval{num: x, isNum: true}
		}
		return pval{}
	case "true":
		return pval{num: 1, isNum: true}
	case "parenthesized_expression":
		if ks := n.namedKids(); len(ks) == 1 {
			return a.eval(ks[0])
		}
	case "attribute":
		return a.attribute(n)
	case "call":
		return a.call(n)
	case "subscript":
		return a.subscript(n)
	case "binary_operator":
		return a.binop(n)
	case "list", "tuple", "expression_list":
		v, t := pval{isList: true}, pval{}
		for _, k := range n.kids {
			if !k.named {
				continue
			}
			e := a.eval(k)
			if len(v.list) < maxFoldedList {
				v.list = append(v.list, e)
			} else {
				t = t.withTaint(e)
			}
		}
		if len(v.list) == maxFoldedList {
			// too long to keep: only where its data came from is kept
			return pval{}.withTaint(v, t)
		}
		a.valueUseList(n, v.list)
		return v
	case "dictionary":
		return a.dict(n)
	case "list_comprehension", "set_comprehension", "generator_expression", "dictionary_comprehension":
		return a.comprehension(n)
	case "named_expression":
		v := a.eval(n.child("value"))
		a.env[a.text(n.child("name"))] = v
		return v
	case "lambda":
		outer := a.forked
		a.forked = false
		a.eval(n.child("body"))
		q := "local.lambda"
		if a.forked {
			q = "local.lambda@" + itoa64(int64(n.start))
			a.forkFuncs[q] = true
		}
		a.forked = outer || a.forked
		return pval{qual: q}
	case "conditional_expression", "boolean_operator":
		var vs []pval
		for _, k := range n.namedKids() {
			vs = append(vs, a.eval(k))
		}
		if len(vs) > 0 && vs[0].qual != "" {
			return vs[0]
		}
		return pval{}.withTaint(vs...)
	}
	return a.evalKids(n)
}

// dict folds a dict literal's string-keyed entries, so that a callable
// stored in one and called through it is still seen; a callable among its
// values counts as used.
func (a *pyAnalyzer) dict(n *pnode) pval {
	out := pval{dict: map[string]pval{}}
	for _, k := range n.kids {
		if !k.named {
			continue
		}
		if k.kind != "pair" {
			out = out.withTaint(a.eval(k))
			continue
		}
		key, v := a.eval(k.child("key")), a.eval(k.child("value"))
		a.valueUse(k, v, nil)
		if key.isStr && len(out.dict) < maxFoldedList {
			out.dict[key.str] = v
		}
		out = out.withTaint(v)
	}
	return out
}

// evalKids visits the children of an expression the analysis does not
// fold, and carries their data-origin marks.
func (a *pyAnalyzer) evalKids(n *pnode) pval {
	var t pval
	for _, k := range n.kids {
		if !k.named {
			continue
		}
		if k.kind == "block" || strings.HasSuffix(k.kind, "_statement") {
			a.stmt(k)
			continue
		}
		v := a.eval(k)
		t = t.withTaint(v)
		if v.qual == "builtins.chr()" {
			t.decoded = true
		}
	}
	return pval{decoded: t.decoded, input: t.input, net: t.net}
}

// pyBuiltins are the builtin names the rules care about.
var pyBuiltins = map[string]bool{
	"eval": true, "exec": true, "compile": true, "open": true, "__import__": true,
	"getattr": true, "setattr": true, "globals": true, "locals": true, "vars": true,
	"input": true, "chr": true, "bytes": true, "bytearray": true, "str": true,
	"execfile": true, "breakpoint": true, "memoryview": true, "reversed": true,
	"map": true, "filter": true, "iter": true, "help": true, "isinstance": true, "issubclass": true,
	"callable": true, "id": true, "repr": true, "print": true, "hash": true, "type": true,
	"hasattr": true, "dir": true, "__build_class__": true,
}

func (a *pyAnalyzer) lookup(name string) pval {
	if v, ok := a.env[name]; ok {
		return v
	}
	switch {
	case name == "__builtins__":
		return pval{qual: "builtins"}
	case pyBuiltins[name]:
		return pval{qual: "builtins." + name}
	}
	for _, m := range a.star {
		if _, ok := pyCalls[m+"."+name]; ok {
			return pval{qual: m + "." + name}
		}
	}
	return pval{}
}

// str folds a string literal, including f-strings whose parts fold.
func (a *pyAnalyzer) str(n *pnode) pval {
	hasInterp := false
	for _, k := range n.kids {
		if k.kind == "interpolation" {
			hasInterp = true
			break
		}
	}
	if !hasInterp {
		s, ok := unquotePy(a.text(n))
		if !ok {
			return pval{}
		}
		return strVal(s)
	}
	var b strings.Builder
	var parts []pval
	known := true
	prefix := ""
	for _, k := range n.kids {
		switch k.kind {
		case "string_content", "escape_sequence":
			b.WriteString(pyUnescape(a.text(k)))
		case "interpolation":
			v := a.eval(k.child("expression"))
			parts = append(parts, v)
			if known && v.isStr {
				b.WriteString(v.str)
			} else if known && v.isNum {
				b.WriteString(itoa64(v.num))
			} else if known {
				known = false
				prefix = b.String()
			}
		}
	}
	if !known {
		return pval{prefix: prefix}.withTaint(parts...)
	}
	v := strVal(b.String())
	v.folded = true
	return v.withTaint(parts...)
}

func itoa64(n int64) string {
	var b [24]byte
	i := len(b)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// introspection names reach globals and builtins without naming them, the
// usual way out of a restricted Python environment.
var introspection = setOf("__subclasses__ __globals__ __builtins__ f_globals f_builtins f_locals gi_frame")

func (a *pyAnalyzer) attribute(n *pnode) pval {
	ov := a.eval(n.child("object"))
	attr := a.text(n.child("attribute"))
	if introspection[attr] && ov.qual != "builtins" {
		a.add(n, "dynamic.dangerous-name", "reaches "+attr+", introspection that leads to builtins and os without naming them")
	}
	if pyIntrospectionHigh[attr] {
		a.add(n, "model.unknown", "reaches "+attr+", introspection of Python's internals that the analyser does not model")
	}
	if ov.qual == "" {
		return pval{}.withTaint(ov)
	}
	if v, ok := a.env[ov.qual+"."+attr]; ok && strings.HasPrefix(ov.qual, "local.class.") {
		return v
	}
	q := canonModule(ov.qual + "." + attr)
	v := pval{qual: q, computedName: ov.computedName, unresolved: ov.unresolved}.withTaint(ov)
	switch q {
	case "sys.argv":
		v.input = true
	case "os.environ":
		v.input = true
	}
	a.dangerousReach(n, v)
	return v
}

func (a *pyAnalyzer) subscript(n *pnode) pval {
	vv := a.eval(n.child("value"))
	subNode := n.child("subscript")
	key := a.eval(subNode)
	switch {
	case vv.qual == "os.environ":
		a.envRead(n, key)
		return envValue(key)
	case vv.qual == "sys.argv":
		return pval{input: true}
	case vv.qual == "sys.modules":
		return a.resolveName(n, "", key, "sys.modules")
	case vv.qual == "globals()" || vv.qual == "builtins.__dict__" || vv.qual == "builtins" ||
		strings.HasSuffix(vv.qual, ".__dict__"):
		base := strings.TrimSuffix(vv.qual, ".__dict__")
		if vv.qual == "globals()" {
			base = ""
		}
		return a.resolveName(n, base, key, "a global name")
	case vv.dict != nil && key.isStr:
		return vv.dict[key.str]
	case vv.isList && key.isNum && key.num >= 0 && key.num < int64(len(vv.list)):
		return vv.list[key.num]
	case vv.isStr && subNode != nil && subNode.kind == "slice" && strings.ReplaceAll(a.text(subNode), " ", "") == "::-1":
		r := []rune(vv.str)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		v := strVal(string(r))
		v.folded = true
		return v.withTaint(vv)
	}
	return pval{}.withTaint(vv)
}

// resolveName turns a name used as a key or getattr argument into the
// module or callable it reaches; base is the module ("" for globals).
func (a *pyAnalyzer) resolveName(n *pnode, base string, key pval, what string) pval {
	if !key.isStr {
		a.add(n, "dynamic.unresolved", "reaches "+orText(base, what)+" by a name computed at run time")
		return pval{unresolved: true}.withTaint(key)
	}
	var v pval
	switch {
	case base != "":
		v = pval{qual: base + "." + key.str}
	case what == "sys.modules":
		v = pval{qual: key.str}
	default:
		v = a.lookup(key.str)
	}
	v.computedName = v.computedName || key.folded || key.decoded
	a.dangerousReach(n, v)
	return v
}

func orText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// dangerousModules are the modules whose reach by a computed name is
// BLOCKED: from them, any code can run.
var dangerousModules = map[string]bool{
	"os": true, "subprocess": true, "builtins": true, "ctypes": true, "pty": true,
	"socket": true, "posix": true, "nt": true, "importlib": true, "sys": true,
	"shutil": true, "commands": true, "multiprocessing": true, "__builtin__": true,
}

// dangerousReach reports a computed name that folded to something
// dangerous: a module above, or a callable with a HIGH or worse rule.
func (a *pyAnalyzer) dangerousReach(n *pnode, v pval) {
	if !v.computedName || v.qual == "" {
		return
	}
	root, _, _ := strings.Cut(v.qual, ".")
	_, rule := pyCalls[v.qual]
	if dangerousModules[v.qual] || (dangerousModules[root] && rule) || pyCodeRunners[v.qual] {
		a.add(n, "dynamic.dangerous-name", "reaches "+v.qual+" by a computed name, a common disguise")
	}
}

var pyCodeRunners = map[string]bool{
	"builtins.eval": true, "builtins.exec": true, "builtins.compile": true,
	"builtins.__import__": true, "builtins.getattr": true, "builtins.open": true,
	"builtins.globals": true, "builtins.setattr": true,
}

func (a *pyAnalyzer) binop(n *pnode) pval {
	l, r := a.eval(n.child("left")), a.eval(n.child("right"))
	switch op := a.text(n.child("operator")); op {
	case "+":
		return concat(l, r)
	case "%":
		if l.isStr {
			args := []pval{r}
			if r.isList {
				args = r.list
			}
			if s, ok := pyFormat(l.str, args, true); ok {
				v := strVal(s)
				v.folded = true
				return v.withTaint(l, r)
			}
			p, _, _ := strings.Cut(l.str, "%")
			return pval{prefix: p}.withTaint(l, r)
		}
		if l.isNum && r.isNum && r.num != 0 {
			return pval{num: l.num % r.num, isNum: true, folded: true}
		}
	case "*":
		return a.multiply(n, l, r)
	case "/":
		if l.qual == "pathlib.Path()" {
			return joinPath(l, r)
		}
	case "-", "^", "|", "&", "<<", ">>", "//":
		if l.isNum && r.isNum {
			return pval{num: arith(op, l.num, r.num), isNum: true, folded: true}
		}
	}
	return pval{}.withTaint(l, r)
}

func arith(op string, x, y int64) int64 {
	switch op {
	case "-":
		return x - y
	case "^":
		return x ^ y
	case "|":
		return x | y
	case "&":
		return x & y
	case "<<":
		if y >= 0 && y < 63 {
			return x << y
		}
	case ">>":
		if y >= 0 && y < 63 {
			return x >> y
		}
	case "//":
		if y != 0 {
			return x / y
		}
	}
	return 0
}

// multiply folds products and notices large repeated sequences.
func (a *pyAnalyzer) multiply(n *pnode, l, r pval) pval {
	if l.isNum && r.isNum {
		if l.num != 0 && (r.num > 1<<40 || r.num < -(1<<40) || l.num > 1<<40 || l.num < -(1<<40)) {
			return pval{num: 1 << 62, isNum: true, folded: true}
		}
		return pval{num: l.num * r.num, isNum: true, folded: true}
	}
	seq, cnt := l, r
	if r.isStr || r.isList {
		seq, cnt = r, l
	}
	if seq.isStr || seq.isList {
		width := int64(len(seq.str))
		if seq.isList {
			width = 8 * int64(len(seq.list))
		}
		a.allocation(n, cnt, width)
	}
	return pval{}.withTaint(l, r)
}

// allocation judges an allocation of count items of width bytes.
func (a *pyAnalyzer) allocation(n *pnode, count pval, width int64) {
	const limit = 256 << 20
	switch {
	case count.isNum:
		if width > 0 && count.num >= limit/width {
			a.add(n, "resource.alloc", "allocates 256 MiB or more")
		}
	case count.input:
		a.add(n, "resource.alloc", "allocates an amount taken from input")
	}
}

// envValue is what reading an environment variable gives: input, and for
// HOME the home directory, which the path rules know as ~.
func envValue(key pval) pval {
	if key.isStr && key.str == "HOME" {
		v := strVal("~")
		v.input = true
		return v
	}
	return pval{input: true}
}

func (a *pyAnalyzer) envRead(n *pnode, key pval) {
	if key.isStr && secretEnvName(key.str) {
		a.add(n, "secret.read", "reads the environment variable "+key.str+", which looks like a secret")
		return
	}
	a.add(n, "env.read", "reads environment variables")
}

// secretEnvName reports names like GITHUB_TOKEN or DB_PASSWORD.
func secretEnvName(s string) bool {
	u := strings.ToUpper(s)
	for _, w := range []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}
