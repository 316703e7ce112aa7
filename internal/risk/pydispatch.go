package risk

import "strings"

// dispatch applies the rule for a callable of kind k.
func (a *pyAnalyzer) dispatch(k pyKind, c *pcall) pval {
	n := c.n
	arg0, _ := c.arg(0, "")
	switch k {
	case kShell:
		a.spawn(n, arg0, true)
	case kSubprocess:
		cmd, _ := c.arg(0, "args")
		sh := c.kw["shell"]
		a.spawn(n, cmd, sh.isNum && sh.num != 0 || cmd.isStr && strings.ContainsAny(cmd.str, " |;&"))
	case kExecv, kSpawnv, kPosixSpawn:
		first := 1
		if k == kSpawnv {
			first = 2
		}
		a.spawn(n, argvFrom(c.args, first), false)
	case kPtySpawn:
		a.spawn(n, arg0, false)
	case kCodeExec:
		return a.codeExec(c)
	case kOpen:
		p, _ := c.arg(0, "file")
		mode, _ := c.arg(1, "mode")
		a.fileAccess(n, p, writeMode(mode))
	case kOSOpen:
		flags := a.text(c.argNode(1))
		a.fileAccess(n, arg0, strings.ContainsAny(flags, "|") || strings.Contains(flags, "WR") ||
			strings.Contains(flags, "CREAT") || strings.Contains(flags, "APPEND") || strings.Contains(flags, "TRUNC"))
	case kRead1:
		a.fileAccess(n, arg0, false)
	case kWrite1:
		a.fileAccess(n, arg0, true)
	case kCopy:
		a.fileAccess(n, arg0, false)
		if dst, ok := c.arg(1, "dst"); ok {
			a.fileAccess(n, dst, true)
		}
	case kDelete:
		a.delete(n, arg0, false)
	case kRmtree:
		a.delete(n, arg0, true)
	case kChmod:
		a.chmod(c, 1)
	case kChown:
		a.add(n, "file.permissions", "changes file ownership")
	case kPriv:
		a.add(n, "privilege.escalate", "changes the user or group the process runs as")
	case kEscape:
		a.add(n, "escape.container", "calls "+c.fn.qual+", a container escape route")
	case kSignal:
		a.add(n, "process.signal", "sends a signal to another process")
	case kFork, kProcess:
		a.fork(n)
	case kThread:
		if a.inUnboundedLoop() {
			a.add(n, "concurrency.unbounded-threads", "starts threads in a loop without a bound")
		} else {
			a.add(n, "concurrency.bounded", "starts a thread")
		}
	case kEnvRead:
		a.envRead(n, arg0)
		return envValue(arg0)
	case kEnvWrite:
		a.envWrite(n)
	case kSleep:
		a.sleep(n, arg0)
	case kAlloc:
		a.allocation(n, arg0, 1)
	default:
		return a.dispatchNet(k, c, arg0)
	}
	return pval{qual: c.fn.qual + "()"}.withTaint(c.args...)
}

func (a *pyAnalyzer) dispatchNet(k pyKind, c *pcall, arg0 pval) pval {
	n := c.n
	switch k {
	case kNetGet, kNetSend, kNetRequest, kURLOpen, kURLRetrieve, kHTTPConnRequest:
		a.sawNet = true
	}
	_, data := c.kw["data"]
	_, js := c.kw["json"]
	_, files := c.kw["files"]
	switch k {
	case kNetGet:
		if data || js || files {
			a.add(n, "net.socket", "sends an HTTP request with a body")
		} else {
			a.add(n, "net.client", "makes an HTTP request")
		}
		return pval{net: true}
	case kNetSend:
		a.add(n, "net.socket", "sends data over the network")
		return pval{net: true, qual: c.fn.qual + "()"}
	case kNetRequest:
		if m := strings.ToUpper(arg0.str); arg0.isStr && (m == "GET" || m == "HEAD") && !data && !js {
			a.add(n, "net.client", "makes an HTTP request")
		} else {
			a.add(n, "net.socket", "sends an HTTP request that may carry a body")
		}
		return pval{net: true}
	case kURLOpen:
		if _, body := c.arg(1, "data"); body || arg0.qual == "urllib.request.Request(data)" {
			a.add(n, "net.socket", "sends an HTTP request with a body")
		} else {
			a.add(n, "net.client", "makes an HTTP request")
		}
		a.socketPath(n, arg0)
		return pval{net: true}
	case kURLRetrieve:
		a.add(n, "net.client", "downloads a file")
		if dst, ok := c.arg(1, "filename"); ok {
			a.fileAccess(n, dst, true)
		}
		return pval{net: true}
	case kURLRequest:
		if _, body := c.arg(1, "data"); body {
			return pval{qual: "urllib.request.Request(data)"}
		}
		return pval{qual: "urllib.request.Request()"}
	case kHTTPConn:
		a.add(n, "net.client", "opens an HTTP connection")
		return pval{qual: c.fn.qual + "()"}
	case kHTTPConnRequest:
		_, body := c.arg(2, "body")
		if m := strings.ToUpper(arg0.str); body || !arg0.isStr || (m != "GET" && m != "HEAD") {
			a.add(n, "net.socket", "sends an HTTP request with a body")
		}
		return pval{net: true}
	case kSocket:
		a.add(n, "net.socket", "opens a raw network socket")
		if a.socketAt == nil {
			a.socketAt = n
		}
		return pval{qual: "socket.socket()"}
	case kListen:
		a.add(n, "net.socket", "listens for network connections")
		if a.socketAt == nil {
			a.socketAt = n
		}
		return pval{qual: "socket.socket()"}
	case kSockConnect:
		a.socketPath(n, arg0)
		if a.socketAt == nil {
			a.socketAt = n
		}
	case kDup2:
		if a.dup2At == nil {
			a.dup2At = n
		}
	default:
		return a.dispatchData(k, c, arg0)
	}
	return pval{}
}

// socketPath notices a socket aimed at the Docker daemon.
func (a *pyAnalyzer) socketPath(n *pnode, v pval) {
	for _, e := range append([]pval{v}, v.list...) {
		if isEscapePath(e.text()) {
			a.add(n, "escape.container", "connects to "+e.text()+", a way out of the container")
		}
	}
}

func (a *pyAnalyzer) dispatchData(k pyKind, c *pcall, arg0 pval) pval {
	n := c.n
	switch k {
	case kDeserialize:
		a.add(n, "deserialize.unsafe", "loads data with "+c.fn.qual+", which can run code hidden in it")
		return pval{decoded: true}
	case kYAMLLoad:
		if l, ok := c.arg(1, "Loader"); !ok || !strings.Contains(l.qual, "Safe") {
			a.add(n, "deserialize.unsafe", "loads YAML without the safe loader, which can run code")
		}
	case kImport:
		return a.dynImport(c)
	case kRunPath:
		a.add(n, "process.spawn", "runs another Python program")
		a.fileAccess(n, arg0, false)
	case kGetattr:
		return a.getattr(c)
	case kSetattr:
		if arg0.qual == "builtins" || arg0.qual == "sys" || arg0.qual == "os" {
			a.add(n, "env.tamper", "replaces an attribute of "+arg0.qual+", changing what later calls do")
		}
	case kGlobals:
		return pval{qual: "globals()"}
	case kVars:
		if arg0.qual != "" {
			return pval{qual: arg0.qual + ".__dict__"}
		}
		return pval{qual: "globals()"}
	case kChr:
		if arg0.isNum && arg0.num >= 0 && arg0.num < 0x110000 {
			v := strVal(string(rune(arg0.num)))
			v.folded = true
			v.qual = ""
			return v
		}
		return pval{decoded: true, qual: "builtins.chr()"}
	case kBytes:
		return a.bytesCall(n, arg0)
	case kStr:
		return arg0
	case kInput:
		return pval{input: true}
	case kDecode:
		extra := ""
		if e, ok := c.arg(1, "encoding"); ok {
			extra = e.str
		}
		if s, ok := decodeConst(c.fn.qual, arg0, extra); ok {
			v := strVal(s)
			v.folded, v.decoded = true, true
			return v
		}
		return pval{decoded: true}.withTaint(arg0)
	case kPath:
		p := pval{qual: "pathlib.Path()", str: arg0.str, isStr: arg0.isStr, prefix: arg0.prefix}.withTaint(arg0)
		for _, x := range c.args[min(1, len(c.args)):] {
			p = joinPath(p, x)
		}
		return p
	case kPathHome:
		return pval{qual: "pathlib.Path()", str: "~", isStr: true}
	case kSysPath:
		a.add(n, "env.tamper", "changes the module search path")
	case kExpandUser:
		return arg0
	case kJoin:
		return pyJoin(c.args)
	default:
		return a.dispatchModel(k, c, arg0)
	}
	return pval{}
}

func (a *pyAnalyzer) bytesCall(n *pnode, arg0 pval) pval {
	switch {
	case arg0.isNum:
		a.allocation(n, arg0, 1)
	case arg0.isList:
		var b []byte
		for _, e := range arg0.list {
			if !e.isNum {
				return pval{decoded: true}
			}
			b = append(b, byte(e.num))
		}
		v := strVal(string(b))
		v.folded, v.decoded = true, true
		return v
	case arg0.isStr:
		return arg0
	}
	return pval{decoded: true}.withTaint(arg0)
}

func argvFrom(args []pval, first int) pval {
	if first < len(args) && args[first].isList && len(args) == first+1 {
		return args[first]
	}
	if first < len(args) && args[first].isList {
		return args[first]
	}
	if first >= len(args) {
		if len(args) > 0 {
			return pval{isList: true, list: args[:1]}
		}
		return pval{}
	}
	return pval{isList: true, list: args[first:]}
}

func (a *pyAnalyzer) fork(n *pnode) {
	a.forked = true
	if a.inUnboundedLoop() {
		a.add(n, "destroy.fork-bomb", "starts processes in a loop without a bound")
		return
	}
	a.add(n, "concurrency.bounded", "starts another process of the interpreter")
}

func (a *pyAnalyzer) sleep(n *pnode, d pval) {
	switch {
	case d.isNum && d.num >= 60:
		a.add(n, "resource.sleep", "sleeps for a minute or more")
	case !d.isNum && d.input:
		a.add(n, "resource.sleep", "sleeps for a time taken from input")
	}
}

// pyJoin folds os.path.join; unknown parts become "?" in the prefix so a
// secret-looking tail (home + "/.ssh/id_rsa") is still seen.
func pyJoin(args []pval) pval {
	parts := make([]string, len(args))
	known := true
	for i, x := range args {
		parts[i] = x.str
		if !x.isStr {
			parts[i], known = "?", false
		}
	}
	joined := ""
	for _, p := range parts {
		if strings.HasPrefix(p, "/") || joined == "" {
			joined = p
		} else {
			joined = strings.TrimSuffix(joined, "/") + "/" + p
		}
	}
	if known {
		v := strVal(joined)
		v.folded = true
		return v.withTaint(args...)
	}
	return pval{prefix: joined}.withTaint(args...)
}
