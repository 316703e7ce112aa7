package risk

import (
	"go/ast"
	"go/token"
	"strings"
)

// goCalls maps a qualified Go function to what calling it does.
var goCalls = buildGoCalls()

type goKind int

const (
	gSpawn goKind = iota + 1
	gSpawnCtx
	gExec
	gPriv
	gEscape
	gSignal
	gRead
	gWrite
	gOpenFile
	gRemove
	gRemoveAll
	gRename
	gChmod
	gChown
	gEnvRead
	gEnvWrite
	gSleep
	gDial
	gListen
	gHTTPGet
	gHTTPSend
	gNewRequest
	gPlugin
	gRawSyscall
	gChdir
)

func buildGoCalls() map[string]goKind {
	m := map[string]goKind{}
	put := func(k goKind, names string) {
		for _, n := range strings.Fields(names) {
			m[n] = k
			if rest, ok := strings.CutPrefix(n, "syscall."); ok {
				m["golang.org/x/sys/unix."+rest] = k
			}
		}
	}
	put(gSpawn, "os/exec.Command")
	put(gSpawnCtx, "os/exec.CommandContext")
	put(gExec, "syscall.Exec syscall.ForkExec syscall.StartProcess os.StartProcess")
	put(gPriv, `syscall.Setuid syscall.Setgid syscall.Seteuid syscall.Setegid syscall.Setreuid
		syscall.Setregid syscall.Setresuid syscall.Setresgid syscall.Setgroups`)
	put(gEscape, `syscall.Mount syscall.Unmount syscall.Chroot syscall.PtraceAttach syscall.PtraceSyscall
		syscall.PtracePokeData syscall.Unshare syscall.Setns syscall.PivotRoot`)
	put(gSignal, "syscall.Kill syscall.Tgkill os.FindProcess")
	put(gChdir, "os.Chdir syscall.Chdir")
	put(gRead, `os.ReadFile os.Open os.ReadDir io/ioutil.ReadFile io/ioutil.ReadDir path/filepath.Walk
		path/filepath.WalkDir os.DirFS path/filepath.Glob`)
	put(gWrite, `os.WriteFile os.Create os.Mkdir os.MkdirAll os.Truncate io/ioutil.WriteFile os.Symlink
		os.Link`)
	put(gOpenFile, "os.OpenFile")
	put(gRemove, "os.Remove syscall.Unlink syscall.Rmdir")
	put(gRemoveAll, "os.RemoveAll")
	put(gRename, "os.Rename")
	put(gChmod, "os.Chmod syscall.Chmod")
	put(gChown, "os.Chown os.Lchown syscall.Chown")
	put(gEnvRead, "os.Getenv os.LookupEnv os.Environ os.ExpandEnv")
	put(gEnvWrite, "os.Setenv os.Unsetenv os.Clearenv")
	put(gSleep, "time.Sleep")
	put(gDial, `net.Dial net.DialTimeout net.DialTCP net.DialUDP net.DialUnix net.DialIP
		crypto/tls.Dial`)
	put(gListen, `net.Listen net.ListenTCP net.ListenUDP net.ListenPacket net.ListenUnix
		net/http.ListenAndServe net/http.ListenAndServeTLS net/http.Serve crypto/tls.Listen`)
	put(gHTTPGet, "net/http.Get net/http.Head net/http.DefaultClient.Get net/http.DefaultClient.Head")
	put(gHTTPSend, "net/http.Post net/http.PostForm net/smtp.SendMail net/http.DefaultClient.Post net/http.DefaultClient.PostForm net/http.DefaultClient.Do")
	put(gNewRequest, "net/http.NewRequest net/http.NewRequestWithContext")
	put(gPlugin, "plugin.Open")
	put(gRawSyscall, "syscall.Syscall syscall.Syscall6 syscall.RawSyscall syscall.RawSyscall6")
	return m
}

func (a *goAnalyzer) call(c *ast.CallExpr) {
	if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "make" {
		a.makeCall(c)
		return
	}
	q := a.qual(c.Fun)
	k, ok := goCalls[q]
	if !ok {
		if !goCallModelled(q) {
			a.add(c.Pos(), "model.unknown", "calls "+q+", which the analyser does not model")
		}
		return
	}
	args := make([]gval, len(c.Args))
	for i, x := range c.Args {
		args[i] = a.eval(x)
	}
	arg := func(i int) gval {
		if i < len(args) {
			return args[i]
		}
		return gval{}
	}
	pos := c.Pos()
	switch k {
	case gSpawn:
		a.spawn(pos, args)
	case gSpawnCtx:
		a.spawn(pos, args[min(1, len(args)):])
	case gExec:
		argv := arg(1)
		if !argv.isList {
			argv = gval{isList: true, list: []gval{arg(0)}}
		}
		a.spawn(pos, argv.list)
	case gPriv:
		a.add(pos, "privilege.escalate", "changes the user or group the process runs as")
	case gEscape:
		a.add(pos, "escape.container", "calls "+q+", a container escape route")
	case gSignal:
		a.add(pos, "process.signal", "sends a signal to another process")
	case gRawSyscall:
		if len(c.Args) > 0 {
			a.rawSyscall(pos, a.src(c.Args[0]))
			a.syscallByNumber(pos, arg(0))
		}
	case gChdir:
		if v := arg(0); !v.known || !insideWorkdir(cleanPath(v.s)) {
			a.add(pos, "model.unknown", "changes to a directory outside the working directory, so the relative paths after it cannot be judged")
		}
	default:
		a.callFiles(k, pos, q, c, arg)
	}
}

func (a *goAnalyzer) callFiles(k goKind, pos token.Pos, q string, c *ast.CallExpr, arg func(int) gval) {
	switch k {
	case gRead:
		a.file(pos, arg(0), false)
	case gWrite:
		a.file(pos, arg(0), true)
		if q == "os.Symlink" || q == "os.Link" {
			a.file(pos, arg(1), true)
		}
	case gOpenFile:
		flags := ""
		if len(c.Args) > 1 {
			flags = a.src(c.Args[1])
		}
		a.file(pos, arg(0), strings.Contains(flags, "WR") || strings.Contains(flags, "CREATE") ||
			strings.Contains(flags, "APPEND") || strings.Contains(flags, "TRUNC"))
	case gRemove, gRemoveAll:
		v := arg(0)
		if !v.known && v.input {
			a.add(pos, "file.path-from-input", "deletes a file whose path comes from arguments or input")
		}
		a.pathVerdict(pos, judgeDelete(v.s, k == gRemoveAll, v.known))
	case gRename:
		a.file(pos, arg(0), true)
		a.file(pos, arg(1), true)
	case gChmod:
		mode := ""
		if len(c.Args) > 1 {
			mode = a.src(c.Args[1])
		}
		if m := arg(1); m.isNum && m.num&0o6000 != 0 || strings.Contains(mode, "ModeSetuid") || strings.Contains(mode, "ModeSetgid") {
			a.add(pos, "privilege.escalate", "sets the setuid or setgid bit")
			return
		}
		a.add(pos, "file.permissions", "changes file permissions")
	case gChown:
		a.add(pos, "file.permissions", "changes file ownership")
	default:
		a.callOther(k, pos, arg)
	}
}

func (a *goAnalyzer) callOther(k goKind, pos token.Pos, arg func(int) gval) {
	switch k {
	case gEnvRead:
		if v := arg(0); v.known && secretEnvName(v.s) {
			a.add(pos, "secret.read", "reads the environment variable "+v.s+", which looks like a secret")
			return
		}
		a.add(pos, "env.read", "reads environment variables")
	case gEnvWrite:
		if !a.envWriteAt.IsValid() {
			a.envWriteAt = pos
		}
	case gSleep:
		if d := arg(0); d.isNum && d.num >= 60e9 {
			a.add(pos, "resource.sleep", "sleeps for a minute or more")
		} else if !d.isNum && d.input {
			a.add(pos, "resource.sleep", "sleeps for a time taken from input")
		}
	case gDial, gListen:
		for i := 0; i < 2; i++ {
			if isEscapePath(arg(i).s) {
				a.add(pos, "escape.container", "connects to "+arg(i).s+", a way out of the container")
			}
		}
		reason := "opens a raw network connection"
		if k == gListen {
			reason = "listens for network connections"
		}
		a.add(pos, "net.socket", reason)
		if !a.socketAt.IsValid() {
			a.socketAt = pos
		}
	case gHTTPGet:
		a.add(pos, "net.client", "makes an HTTP request")
	case gHTTPSend:
		a.add(pos, "net.socket", "sends data over the network")
	case gNewRequest:
		m := arg(0)
		if strings.HasSuffix(m.qual, "Context()") || m.qual == "context.Background()" || m.qual == "context.TODO()" {
			m = arg(1)
		}
		if m.known && (strings.EqualFold(m.s, "GET") || strings.EqualFold(m.s, "HEAD")) || m.qual == "net/http.MethodGet" {
			a.add(pos, "net.client", "makes an HTTP request")
		} else {
			a.add(pos, "net.socket", "sends an HTTP request that may carry a body")
		}
	case gPlugin:
		a.add(pos, "native.code", "loads a Go plugin")
	}
}

func (a *goAnalyzer) src(e ast.Expr) string {
	p, q := a.fset.Position(e.Pos()), a.fset.Position(e.End())
	if a.r.src == nil || p.Offset < 0 || q.Offset > len(a.r.src) || p.Offset > q.Offset {
		return ""
	}
	return string(a.r.src[p.Offset:q.Offset])
}

func (a *goAnalyzer) file(pos token.Pos, v gval, write bool) {
	switch {
	case v.known || strings.HasPrefix(v.s, "/") || strings.HasPrefix(v.s, "~"):
		a.pathVerdict(pos, judgePath(v.s, write))
	case isSecretPath(v.s):
		a.add(pos, "secret.read", "touches "+v.s+", which looks like a secret")
	case v.input:
		a.add(pos, "file.path-from-input", "opens a file whose path comes from arguments or input")
	}
}

func (a *goAnalyzer) pathVerdict(pos token.Pos, v pathVerdict) {
	if v.rule != "" {
		a.add(pos, v.rule, v.reason)
	}
}

// spawn judges exec.Command and friends given the program and arguments.
func (a *goAnalyzer) spawn(pos token.Pos, argv []gval) {
	if !a.spawnAt.IsValid() {
		a.spawnAt = pos
	}
	if len(a.loops) > 0 {
		a.add(pos, "destroy.fork-bomb", "starts processes in a loop without a bound")
	}
	words := make([]string, len(argv))
	known := true
	net, dec := false, false
	for i, v := range argv {
		words[i] = v.s
		known = known && v.known
		net, dec = net || v.net, dec || v.decoded
		if v.isList {
			known = false
		}
	}
	p := a.fset.Position(pos)
	switch {
	case net:
		a.add(pos, "net.download-exec", "runs a command that came from the network")
	case dec:
		a.add(pos, "exec.dynamic", "runs decoded data as a command")
	case len(argv) == 0 || !argv[0].known:
		a.add(pos, "process.computed", "runs a command whose name is computed at run time")
	default:
		a.add(pos, "process.spawn", "runs another program: "+shorten(strings.Join(words, " ")))
	}
	if len(words) > 0 && argv[0].known && isInteractiveShell(words) {
		a.shellAt = pos
	}
	nested := a.r.nested(nil, p.Line, p.Column)
	judgeArgv(a.ctx, nested, words, known, a.depth+1)
	a.r.merge(nested)
}

func (a *goAnalyzer) makeCall(c *ast.CallExpr) {
	if len(c.Args) < 2 {
		return
	}
	n := a.eval(c.Args[1])
	width := int64(8)
	if at, ok := c.Args[0].(*ast.ArrayType); ok {
		if id, ok := at.Elt.(*ast.Ident); ok && (id.Name == "byte" || id.Name == "uint8" || id.Name == "int8") {
			width = 1
		}
	}
	switch {
	case n.isNum && n.num >= (256<<20)/width:
		a.add(c.Pos(), "resource.alloc", "allocates 256 MiB or more")
	case n.input:
		a.add(c.Pos(), "resource.alloc", "allocates an amount taken from input")
	}
}

// rawSyscall judges syscall.Syscall by the number it is given.
func (a *goAnalyzer) rawSyscall(pos token.Pos, number string) {
	has := func(names ...string) bool {
		for _, n := range names {
			if strings.Contains(number, n) {
				return true
			}
		}
		return false
	}
	switch {
	case has("SYS_SETUID", "SYS_SETGID", "SYS_SETRESUID", "SYS_SETREUID", "SYS_CAPSET"):
		a.add(pos, "privilege.escalate", "changes the process's user or capabilities through a raw system call")
	case has("SYS_MOUNT", "SYS_UNSHARE", "SYS_SETNS", "SYS_PTRACE", "SYS_CHROOT", "SYS_PIVOT_ROOT"):
		a.add(pos, "escape.container", "makes a system call that is a container escape route")
	case has("SYS_FORK", "SYS_VFORK", "SYS_CLONE") && len(a.loops) > 0:
		a.add(pos, "destroy.fork-bomb", "forks in a loop without a bound")
	}
}
