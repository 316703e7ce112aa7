package risk

import (
	"path"
	"strings"
)

// pcall is one call being judged.
type pcall struct {
	n        *pnode
	fn       pval
	recv     pval // the object of a method call
	method   string
	args     []pval
	argNodes []*pnode
	kw       map[string]pval
	// asValue marks a callable used as a value, judged as a call whose
	// arguments may be unknown
	asValue bool
}

// arg returns positional argument i, or keyword name when given so.
func (c *pcall) arg(i int, name string) (pval, bool) {
	if i >= 0 && i < len(c.args) {
		return c.args[i], true
	}
	v, ok := c.kw[name]
	return v, ok
}

func (c *pcall) argNode(i int) *pnode {
	if i < len(c.argNodes) {
		return c.argNodes[i]
	}
	return nil
}

func (a *pyAnalyzer) call(n *pnode) pval {
	c := &pcall{n: n, kw: map[string]pval{}}
	fnNode := n.child("function")
	if fnNode != nil && fnNode.kind == "attribute" {
		c.recv = a.eval(fnNode.child("object"))
		c.method = a.text(fnNode.child("attribute"))
		switch {
		case introspection[c.method] && c.recv.qual != "builtins":
			a.add(fnNode, "dynamic.dangerous-name", "reaches "+c.method+", introspection that leads to builtins and os without naming them")
		case pyIntrospectionHigh[c.method]:
			a.add(fnNode, "model.unknown", "reaches "+c.method+", introspection of Python's internals that the analyser does not model")
		}
		if v, ok := a.env[c.recv.qual+"."+c.method]; ok && strings.HasPrefix(c.recv.qual, "local.class.") {
			c.fn, c.recv, c.method = v, pval{}, ""
		}
		if c.method == "__call__" && c.recv.qual != "" {
			c.fn, c.recv, c.method = c.recv, pval{}, "" // f.__call__(x) is f(x)
		}
		if c.recv.qual != "" && c.method != "" {
			c.fn = pval{qual: c.recv.qual + "." + c.method, computedName: c.recv.computedName}
			a.dangerousReach(fnNode, c.fn)
		}
	} else {
		c.fn = a.eval(fnNode)
	}
	a.callArgs(c, n.child("arguments"))
	a.valueUses(c)
	q := normalizeQual(c.fn.qual)
	if c.fn.qual == "operator.methodcaller()" || c.fn.qual == "operator.attrgetter()" {
		return a.callGetter(c)
	}
	if k, ok := pyCalls[q]; ok {
		return a.dispatch(k, c)
	}
	if !pyCallModelled(q) {
		a.add(n, "model.unknown", "calls "+q+", which the analyser does not model")
	}
	if a.forkFuncs[q] {
		a.fork(n)
	}
	if a.netFuncs[q] {
		return pval{net: true}.withTaint(c.args...)
	}
	if c.recv.qual == "pathlib.Path()" {
		return a.pathMethod(c)
	}
	if strings.HasPrefix(q, "ctypes.") && strings.Contains(q, "()") {
		return a.nativeCall(c)
	}
	if c.method != "" && c.recv.qual == "" {
		return a.valueMethod(c)
	}
	if q != "" {
		return pval{qual: q + "()"}.withTaint(c.args...)
	}
	return pval{}.withTaint(c.args...)
}

func (a *pyAnalyzer) callArgs(c *pcall, args *pnode) {
	if args == nil {
		return
	}
	if args.kind == "generator_expression" {
		c.args = append(c.args, a.eval(args))
		c.argNodes = append(c.argNodes, args)
		return
	}
	for _, k := range args.namedKids() {
		switch k.kind {
		case "keyword_argument":
			c.kw[a.text(k.child("name"))] = a.eval(k.child("value"))
		case "comment":
		case "list_splat", "dictionary_splat":
			v := a.eval(k)
			c.kw["*"] = v
		default:
			c.args = append(c.args, a.eval(k))
			c.argNodes = append(c.argNodes, k)
		}
	}
}

// normalizeQual maps the many spellings of one callable to the name the
// rule table uses.
func normalizeQual(q string) string {
	if q == "" {
		return q
	}
	for _, p := range qualAliases {
		if rest, ok := strings.CutPrefix(q, p[0]); ok {
			return p[1] + rest
		}
	}
	return q
}

var qualAliases = [][2]string{
	{"requests.Session().", "requests."}, {"requests.session().", "requests."},
	{"httpx.Client().", "httpx."}, {"httpx.AsyncClient().", "httpx."},
	{"urllib2.", "urllib.request."}, {"posix.", "os."}, {"nt.", "os."}, {"__builtin__.", "builtins."},
	{"cPickle.", "pickle."}, {"_pickle.", "pickle."}, {"socket.socket().", "socket.sock."},
	{"socket.create_connection().", "socket.sock."}, {"ssl.wrap_socket().", "socket.sock."},
	{"asyncio.get_event_loop().", "asyncio.loop."}, {"asyncio.new_event_loop().", "asyncio.loop."},
	{"asyncio.get_running_loop().", "asyncio.loop."},
}

// canonModule rewrites a module reached through another module to the
// module itself: shutil.os is os, tempfile._os is os.
func canonModule(q string) string {
	first, rest, ok := strings.Cut(q, ".")
	if !ok || !pyStdlib[first] {
		return q
	}
	second, tail, _ := strings.Cut(rest, ".")
	m := strings.TrimPrefix(second, "_")
	if m == first || !dangerousModules[m] || first == "os" && m == "path" {
		return q
	}
	if tail == "" {
		return m
	}
	return m + "." + tail
}

// valueMethod folds the string methods used to disguise names, and carries
// data-origin marks through any other method.
func (a *pyAnalyzer) valueMethod(c *pcall) pval {
	r := c.recv
	switch c.method {
	case "join":
		if r.isStr && len(c.args) == 1 && c.args[0].isList {
			out := strVal("")
			for i, e := range c.args[0].list {
				if i > 0 {
					out = concat(out, r)
				}
				out = concat(out, e)
			}
			out.folded = true
			return out
		}
	case "format":
		if r.isStr {
			if s, ok := pyFormat(r.str, c.args, false); ok {
				v := strVal(s)
				v.folded = true
				return v.withTaint(c.args...)
			}
		}
	case "replace":
		if r.isStr && len(c.args) >= 2 && c.args[0].isStr && c.args[1].isStr {
			v := strVal(strings.ReplaceAll(r.str, c.args[0].str, c.args[1].str))
			v.folded = true
			return v
		}
	case "decode", "encode", "strip", "lstrip", "rstrip", "lower", "upper", "casefold", "title":
		if r.isStr {
			v := r
			switch c.method {
			case "lower", "casefold":
				v.str = strings.ToLower(v.str)
			case "upper":
				v.str = strings.ToUpper(v.str)
			case "strip", "lstrip", "rstrip":
				v.str = strings.TrimSpace(v.str)
			}
			v.folded = v.folded || c.method != "decode" && c.method != "encode"
			return v
		}
		return r
	case "read", "readline", "readlines", "text", "json", "content", "getvalue", "communicate":
		return pval{}.withTaint(r)
	}
	return pval{}.withTaint(append(c.args, r)...)
}

// pathMethod judges a pathlib.Path method.
func (a *pyAnalyzer) pathMethod(c *pcall) pval {
	p := c.recv
	switch c.method {
	case "read_text", "read_bytes", "iterdir", "glob", "rglob":
		a.fileAccess(c.n, p, false)
	case "write_text", "write_bytes", "touch", "mkdir", "symlink_to", "hardlink_to":
		a.fileAccess(c.n, p, true)
	case "open":
		mode, _ := c.arg(0, "mode")
		a.fileAccess(c.n, p, writeMode(mode))
	case "unlink", "rmdir":
		a.delete(c.n, p, false)
	case "chmod", "lchmod":
		a.chmod(c, 0)
	case "rename", "replace":
		a.fileAccess(c.n, p, true)
		if t, ok := c.arg(0, "target"); ok {
			a.fileAccess(c.n, t, true)
		}
	case "expanduser", "resolve", "absolute":
		return p
	case "joinpath":
		for _, x := range c.args {
			p = joinPath(p, x)
		}
		return p
	}
	return pval{}.withTaint(p)
}

func joinPath(p, x pval) pval {
	switch {
	case p.isStr && x.isStr:
		return pval{qual: "pathlib.Path()", str: path.Join(p.str, x.str), isStr: true}.withTaint(p, x)
	case p.isStr:
		return pval{qual: "pathlib.Path()", prefix: p.str + "/"}.withTaint(p, x)
	}
	return pval{qual: "pathlib.Path()", prefix: p.prefix}.withTaint(p, x)
}

func writeMode(mode pval) bool {
	return mode.isStr && strings.ContainsAny(mode.str, "wax+")
}

// fileAccess judges reading or writing the file named by v.
func (a *pyAnalyzer) fileAccess(n *pnode, v pval, write bool) {
	t := v.text()
	switch {
	case v.isStr || strings.HasPrefix(t, "/") || strings.HasPrefix(t, "~"):
		a.addPV(n, judgePath(t, write))
	case isSecretPath(t):
		a.add(n, "secret.read", "touches "+t+", which looks like a secret")
	case v.input:
		a.add(n, "file.path-from-input", "opens a file whose path comes from arguments or input")
	}
}

func (a *pyAnalyzer) addPV(n *pnode, v pathVerdict) {
	if v.rule != "" {
		a.add(n, v.rule, v.reason)
	}
}

func (a *pyAnalyzer) delete(n *pnode, v pval, recursive bool) {
	if !v.isStr && v.input && v.prefix == "" {
		a.add(n, "file.path-from-input", "deletes a file whose path comes from arguments or input")
	}
	a.addPV(n, judgeDelete(v.text(), recursive, v.isStr))
}

// chmod judges a permission change; mode is the index of the mode argument.
func (a *pyAnalyzer) chmod(c *pcall, mode int) {
	m, _ := c.arg(mode, "mode")
	text := a.text(c.argNode(mode))
	if (m.isNum && m.num&0o6000 != 0) || strings.Contains(text, "S_ISUID") || strings.Contains(text, "S_ISGID") {
		a.add(c.n, "privilege.escalate", "sets the setuid or setgid bit, which runs the file with its owner's privileges")
		return
	}
	a.add(c.n, "file.permissions", "changes file permissions")
}

// spawn judges starting a program: cmd is a shell command line when shell
// is true, otherwise an argv list or a program name.
func (a *pyAnalyzer) spawn(n *pnode, cmd pval, shell bool) {
	a.forked = true
	if a.spawnAt == nil {
		a.spawnAt = n
	}
	if a.inUnboundedLoop() {
		a.add(n, "destroy.fork-bomb", "starts processes in a loop without a bound")
	}
	words, known := argvOf(cmd, shell)
	switch {
	case cmd.net:
		a.add(n, "net.download-exec", "runs a command that came from the network")
	case cmd.decoded:
		a.add(n, "exec.dynamic", "runs decoded data as a command")
	case !known:
		a.add(n, "process.computed", "runs a command built at run time")
	default:
		a.add(n, "process.spawn", "runs another program: "+shorten(strings.Join(words, " ")))
	}
	if len(words) > 0 && isInteractiveShell(words) && a.shellAt == nil {
		a.shellAt = n
	}
	if !known && len(words) == 0 {
		return
	}
	nested := a.r.nested(nil, n.line, n.col)
	if shell && cmd.isStr {
		judgeShell(a.ctx, nested, []byte(cmd.str), a.depth+1)
	} else {
		judgeArgv(a.ctx, nested, words, known, a.depth+1)
	}
	a.r.merge(nested)
}

// argvOf returns the words of a command and whether all are known.
func argvOf(cmd pval, shell bool) ([]string, bool) {
	switch {
	case cmd.isStr && shell:
		return strings.Fields(cmd.str), true
	case cmd.isStr:
		return []string{cmd.str}, true
	case cmd.isList:
		var w []string
		known := true
		for _, e := range cmd.list {
			if !e.isStr {
				known = false
				w = append(w, "")
				continue
			}
			w = append(w, e.str)
		}
		return w, known
	}
	if cmd.prefix != "" {
		return strings.Fields(cmd.prefix), false
	}
	return nil, false
}

var shells = setOf("sh bash zsh dash ksh ash fish csh tcsh")

// isInteractiveShell reports argv that starts a shell reading commands
// from its standard input: the last step of a reverse shell.
func isInteractiveShell(w []string) bool {
	if !shells[path.Base(w[0])] {
		return false
	}
	for _, x := range w[1:] {
		if x == "-c" || !strings.HasPrefix(x, "-") {
			return false // runs a command string or a script file
		}
	}
	return true
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// codeExec judges eval, exec and compile.
func (a *pyAnalyzer) codeExec(c *pcall) pval {
	v, ok := c.arg(0, "source")
	if !ok && c.kw["stmt"].isStr {
		v, ok = c.kw["stmt"], true
	}
	if !ok {
		if c.asValue || c.fn.qual == "code.interact" || strings.HasSuffix(c.fn.qual, ".interact") {
			a.add(c.n, "exec.dynamic", "uses "+c.fn.qual+" so that it runs code the analysis cannot follow")
		}
		return pval{}
	}
	if strings.HasPrefix(v.qual, "local.") {
		return pval{} // timeit and profilers also take a function of this file
	}
	node := c.argNode(0)
	switch {
	case v.qual == "builtins.compile()":
		return pval{}
	case node != nil && node.kind == "string" && v.isStr && !v.folded:
		if a.depth >= maxInlineDepth {
			a.add(c.n, "exec.dynamic", "nests code strings too deeply to judge")
			break
		}
		nested := a.r.nested(nil, c.n.line, c.n.col)
		judgePython(a.ctx, nested, []byte(v.str), a.depth+1)
		a.r.merge(nested)
		if c.fn.qual == "builtins.compile" {
			return pval{qual: "builtins.compile()"}
		}
	case v.net:
		a.add(c.n, "net.download-exec", "runs code that came from the network")
	case v.decoded:
		a.add(c.n, "exec.dynamic", "runs decoded data as code, a common way to hide what it does")
	default:
		a.add(c.n, "exec.dynamic", "runs code that is not a string literal")
	}
	return pval{}
}

// dynImport judges __import__ and importlib.import_module.
func (a *pyAnalyzer) dynImport(c *pcall) pval {
	v, _ := c.arg(0, "name")
	if !v.isStr {
		a.add(c.n, "import.computed", "imports a module whose name is computed at run time")
		return pval{unresolved: true}
	}
	a.judgeImport(c.n, v.str)
	out := pval{qual: v.str, computedName: v.folded || v.decoded}
	a.dangerousReach(c.n, out)
	return out
}

func (a *pyAnalyzer) getattr(c *pcall) pval {
	obj, _ := c.arg(0, "")
	name, ok := c.arg(1, "")
	if !ok {
		return pval{}
	}
	if obj.qual == "" || strings.HasPrefix(obj.qual, "local.") {
		return pval{}.withTaint(obj)
	}
	if n := c.argNode(1); n != nil && n.kind != "string" {
		name.folded = true // reached through a variable or an expression
	}
	return a.resolveName(c.n, obj.qual, name, obj.qual)
}

// nativeCall judges calls into a library loaded with ctypes.
func (a *pyAnalyzer) nativeCall(c *pcall) pval {
	switch c.method {
	case "mount", "umount", "umount2", "unshare", "setns", "ptrace", "chroot", "pivot_root":
		a.add(c.n, "escape.container", "calls "+c.method+" through ctypes, a container escape route")
	case "setuid", "setgid", "setresuid", "setresgid", "seteuid", "setreuid":
		a.add(c.n, "privilege.escalate", "calls "+c.method+" through ctypes")
	default:
		a.add(c.n, "native.code", "calls native code through ctypes")
	}
	return pval{qual: c.fn.qual + "()"}
}
