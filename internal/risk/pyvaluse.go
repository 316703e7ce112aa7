package risk

import "strings"

// A dangerous callable used as a value counts as a call of it: passed to
// map, atexit.register, functools.partial, a thread, a callback, stored in
// a collection or returned. Its arguments are the values that follow it
// where they can be told (partial(os.system, "…"), (os.system, ("…",)) as
// __reduce__ returns it); otherwise it is judged with unknown arguments.

// pyCallableValue returns the rule kind of a value that is a callable the
// rules judge, and false for anything else.
func pyCallableValue(v pval) (pyKind, bool) {
	if v.qual == "" || strings.Contains(v.qual, "()") {
		return 0, false
	}
	k, ok := pyCalls[normalizeQual(v.qual)]
	if !ok {
		return 0, false
	}
	switch k {
	case kChr, kBytes, kStr, kJoin, kPath, kPathHome, kExpandUser, kInput, kDecode, kGlobals, kVars,
		kURLRequest, kMap, kMethodCaller, kAttrGetter, kGetattr, kEnvRead, kAlloc:
		return 0, false
	}
	return k, true
}

// valueUses judges the callables among a call's arguments.
func (a *pyAnalyzer) valueUses(c *pcall) {
	if pyValueSafe[c.fn.qual] {
		return
	}
	for i, v := range c.args {
		rest := c.args[i+1:]
		if c.fn.qual == "builtins.map" || c.fn.qual == "builtins.filter" {
			rest = firstElements(rest)
		}
		a.valueUse(c.n, v, rest)
	}
	for name, v := range c.kw {
		var rest []pval
		if name == "target" || name == "function" || name == "func" {
			if args, ok := c.kw["args"]; ok {
				rest = []pval{args}
			}
		}
		a.valueUse(c.n, v, rest)
	}
}

// firstElements returns one element of each iterable, as map() would pass.
func firstElements(its []pval) []pval {
	out := make([]pval, len(its))
	for i, it := range its {
		if it.isList && len(it.list) > 0 {
			out[i] = it.list[0]
		}
	}
	return out
}

// valueUse judges v, used as a value at n, as a call with args.
func (a *pyAnalyzer) valueUse(n *pnode, v pval, args []pval) {
	if strings.HasPrefix(v.qual, "local.") && a.forkFuncs[v.qual] {
		a.fork(n)
	}
	k, ok := pyCallableValue(v)
	if !ok {
		return
	}
	if len(args) == 1 && args[0].isList {
		args = args[0].list
	}
	a.dispatch(k, &pcall{n: n, fn: pval{qual: normalizeQual(v.qual)}, args: args, kw: map[string]pval{}, asValue: true})
}

// valueUseList judges the callables among the elements of a collection:
// each with the elements that follow it as its arguments.
func (a *pyAnalyzer) valueUseList(n *pnode, elems []pval) {
	for i, e := range elems {
		a.valueUse(n, e, elems[i+1:])
	}
}

// callGetter judges operator.methodcaller(name, …)(obj) and
// operator.attrgetter(name)(obj): obj's attribute reached by name.
func (a *pyAnalyzer) callGetter(c *pcall) pval {
	g := c.fn
	obj, ok := c.arg(0, "")
	if !ok {
		return pval{}
	}
	if !g.isStr || obj.qual == "" {
		a.add(c.n, "model.unknown", "reaches an attribute by a name through operator, which the analyser cannot follow")
		return pval{}
	}
	name := strVal(g.str)
	name.folded = true
	v := a.resolveName(c.n, obj.qual, name, obj.qual)
	if g.qual == "operator.attrgetter()" {
		return v
	}
	if k, ok := pyCalls[normalizeQual(v.qual)]; ok {
		return a.dispatch(k, &pcall{n: c.n, fn: v, args: g.list, kw: map[string]pval{}})
	}
	if !pyCallModelled(v.qual) {
		a.add(c.n, "model.unknown", "calls "+v.qual+" through operator.methodcaller, which the analyser does not model")
	}
	return pval{}
}

// dispatchModel applies the rules added for failing closed.
func (a *pyAnalyzer) dispatchModel(k pyKind, c *pcall, arg0 pval) pval {
	n := c.n
	switch k {
	case kMPContext:
		return pval{qual: "multiprocessing"}
	case kLogFile:
		p, ok := c.arg(0, "filename")
		if c.fn.qual == "logging.basicConfig" {
			p, ok = c.kw["filename"]
		}
		if ok {
			a.fileAccess(n, p, true)
		}
	case kNetrc:
		p, ok := c.arg(0, "file")
		if !ok {
			p = strVal("~/.netrc")
		}
		a.fileAccess(n, p, false)
	case kSQLite:
		if !(arg0.isStr && arg0.str == ":memory:") {
			a.fileAccess(n, arg0, true)
		}
	case kChdir:
		if t := arg0.text(); !arg0.isStr || !insideWorkdir(cleanPath(t)) {
			a.add(n, "model.unknown", "changes to a directory outside the working directory, so the relative paths after it cannot be judged")
		}
	case kMethodCaller, kAttrGetter:
		name, _ := c.arg(0, "")
		var rest []pval
		if len(c.args) > 1 {
			rest = c.args[1:]
		}
		return pval{qual: c.fn.qual + "()", str: name.str, isStr: name.isStr, list: rest}
	case kMap:
		return a.mapCall(c)
	case kBreakpoint:
		if a.breakpointHook {
			a.add(n, "exec.dynamic", "calls breakpoint() after setting PYTHONBREAKPOINT, which runs whatever callable it names")
		} else {
			a.add(n, "model.unknown", "calls breakpoint(), which starts a debugger that runs what it reads: not modelled")
		}
	}
	return pval{}
}

// mapCall folds map(chr, [...]) and the like, so a name spelled as
// character codes is still a constant.
func (a *pyAnalyzer) mapCall(c *pcall) pval {
	if len(c.args) != 2 || !c.args[1].isList || c.fn.qual != "builtins.map" {
		return pval{}.withTaint(c.args...)
	}
	f := c.args[0]
	out := pval{isList: true}
	for _, e := range c.args[1].list {
		switch {
		case f.qual == "builtins.chr" && e.isNum && e.num >= 0 && e.num < 0x110000:
			v := strVal(string(rune(e.num)))
			v.folded, v.qual = true, ""
			out.list = append(out.list, v)
		case f.qual == "builtins.str" && e.isStr:
			out.list = append(out.list, e)
		default:
			return pval{decoded: f.qual == "builtins.chr"}.withTaint(c.args...)
		}
	}
	return out
}
