package risk

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

func (a *shAnalyzer) call(s *syntax.Stmt, c *syntax.CallExpr) {
	line, col := int(s.Pos().Line()), int(s.Pos().Col())
	for _, as := range c.Assigns {
		a.assign(as, line, col, len(c.Args) > 0)
	}
	if len(c.Args) == 0 {
		return
	}
	words := make([]shWord, len(c.Args))
	for i, w := range c.Args {
		words[i] = a.word(w, line, col)
	}
	if len(a.inFunc) > 0 && words[0].s == a.inFunc[len(a.inFunc)-1] && (a.bg || a.inPipe) {
		a.add(line, col, "destroy.fork-bomb", "a function that starts copies of itself in the background: a fork bomb")
	}
	a.command(line, col, words, s)
}

// plainText are the text tools the risk note lists as LOW, plus builtins
// and a few more tools that only read and transform text.
var plainText = setOf(`echo printf cat grep egrep fgrep sed awk gawk cut sort uniq head tail wc tr tee
	ls find date expr test [ [[ basename dirname seq true false read : cd pwd exit return break
	continue shift set unset local declare typeset readonly getopts wait trap shopt umask alias
	unalias type hash let mapfile readarray pushd popd dirs caller diff cmp comm join paste nl fold
	rev column md5sum sha1sum sha256sum sha512sum base64 jq bc od xxd yes printenv realpath
	readlink stat du file iconv less more mkdir touch cp mv ln rmdir unlink`)

// textArgsFrom says how many leading operands of a text tool are not files.
var textPattern = setOf("grep egrep fgrep sed awk gawk")

// command judges one simple command given as expanded words.
func (a *shAnalyzer) command(line, col int, w []shWord, s *syntax.Stmt) {
	name := w[0]
	add := func(rule, reason string) { a.add(line, col, rule, reason) }
	if a.tcpFD && (!name.known || shells[baseName(name.s)]) {
		add("shell.reverse", "runs commands while holding a network connection open: a reverse shell")
	}
	if !name.known {
		switch {
		case name.net:
			add("net.download-exec", "runs a command that came from the network")
		case name.decoded:
			add("exec.dynamic", "runs a decoded command")
		default:
			add("process.computed", "runs a command whose name is computed at run time")
		}
		return
	}
	base := baseName(name.s)
	if a.funcs[base] && !strings.Contains(name.s, "/") {
		return
	}
	if name.computed {
		add("process.computed", "runs the command "+base+" named by a variable")
	}
	if a.downloaded[name.s] || a.downloaded[strings.TrimPrefix(name.s, "./")] {
		add("net.download-exec", "runs "+name.s+", a file it downloaded")
	}
	for _, x := range w[1:] {
		if isEscapePath(x.s) {
			add("escape.container", "uses "+x.s+", a way out of the container")
		}
	}
	if strings.HasPrefix(base, "mkfs") {
		base = "mkfs"
	}
	a.judge(line, col, base, w)
}

// operands returns the words that are not options.
func operands(w []shWord) []shWord {
	var out []shWord
	dash := false
	for _, x := range w {
		if !dash && x.known && x.s == "--" {
			dash = true
			continue
		}
		if !dash && x.known && strings.HasPrefix(x.s, "-") && x.s != "-" {
			continue
		}
		out = append(out, x)
	}
	return out
}

func hasFlag(w []shWord, short string, long ...string) bool {
	for _, x := range w {
		if !x.known || !strings.HasPrefix(x.s, "-") {
			continue
		}
		for _, l := range long {
			if x.s == l || strings.HasPrefix(x.s, l+"=") {
				return true
			}
		}
		if short != "" && !strings.HasPrefix(x.s, "--") && strings.ContainsAny(x.s[1:], short) {
			return true
		}
	}
	return false
}

func (a *shAnalyzer) judge(line, col int, base string, w []shWord) {
	add := func(rule, reason string) { a.add(line, col, rule, reason) }
	args := w[1:]
	switch base {
	case "rm", "unlink", "rmdir":
		rec := base == "rm" && hasFlag(args, "rR", "--recursive")
		for _, t := range operands(args) {
			a.addPV(line, col, judgeDelete(t.s, rec, t.known))
		}
	case "sleep":
		a.sleep(line, col, args)
	case "curl", "wget":
		a.download(line, col, base, args)
	case "nc", "ncat", "netcat", "socat", "telnet":
		if hasFlag(args, "ec", "--exec", "--sh-exec", "--lua-exec") || anyContains(args, "EXEC:", "SYSTEM:", "exec:", "system:") {
			add("shell.reverse", "connects a program to the network with "+base+": a reverse or bind shell")
			return
		}
		add("net.socket", "opens a raw network connection with "+base)
	case "ssh", "scp", "sftp", "rsync", "ftp":
		add("net.socket", "connects to another machine with "+base)
	case "chmod":
		a.chmod(line, col, args)
	case "chown", "chgrp", "chattr", "setfacl":
		add("file.permissions", "changes file ownership or attributes with "+base)
	case "sudo", "su", "doas", "pkexec", "setcap", "capsh", "newgrp", "runuser":
		add("privilege.escalate", "gains privileges with "+base)
		if base != "su" && len(args) > 0 {
			a.subcommand(line, col, args)
		}
	case "mkfs", "mke2fs", "shred", "wipefs", "fdisk", "sfdisk", "parted", "blkdiscard", "badblocks":
		add("destroy.device", base+" destroys data on disks or files beyond recovery")
	case "dd":
		a.dd(line, col, args)
	case "mount", "umount", "nsenter", "unshare", "chroot", "pivot_root", "docker", "podman",
		"ctr", "runc", "crictl", "kubectl", "lxc":
		add("escape.container", "runs "+base+", a container escape route")
	case "strace", "ltrace", "gdb":
		if hasFlag(args, "p", "--pid") {
			add("escape.container", "attaches to another process with ptrace")
			return
		}
		add("process.spawn", "runs the debugger "+base)
	case "insmod", "rmmod", "modprobe", "iptables", "ip6tables", "nft", "ufw", "iptables-restore":
		add("system.tamper", "changes the kernel or the firewall with "+base)
	case "sysctl":
		if hasFlag(args, "wp", "--write", "--load") || anyContains(args, "=") {
			add("system.tamper", "changes kernel parameters")
			return
		}
		add("process.spawn", "runs sysctl")
	case "crontab", "at", "batch", "update-rc.d", "chkconfig", "launchctl":
		if base == "crontab" && hasFlag(args, "l", "--list") {
			add("process.spawn", "lists the crontab")
			return
		}
		add("persist.startup", "schedules code to run later with "+base)
	case "systemctl":
		if anyIs(args, "enable", "link", "edit", "set-default", "preset", "reenable", "add-wants") {
			add("persist.startup", "installs a service that runs at start-up")
			return
		}
		add("process.spawn", "controls system services")
	case "kill", "pkill", "killall", "skill":
		add("process.signal", "sends signals to other processes")
	case "printenv", "env":
		a.envCommand(line, col, base, args)
	case "eval":
		a.eval(line, col, args)
	case "source", ".":
		add("process.spawn", "runs the shell file "+firstText(args))
	case "exec", "command", "builtin", "nohup", "nice", "time", "stdbuf", "timeout", "xargs", "setsid",
		"ionice", "chrt", "taskset", "watch", "flock":
		a.wrapper(line, col, base, args)
	default:
		a.judgeOther(line, col, base, w)
	}
}

func (a *shAnalyzer) judgeOther(line, col int, base string, w []shWord) {
	args := w[1:]
	switch {
	case shells[base]:
		a.shell(line, col, base, args)
	case isInterpreter(base):
		a.interpreter(line, col, base, args)
	case plainText[base]:
		a.textTool(line, col, base, args)
	default:
		a.add(line, col, "process.spawn", "runs the program "+w[0].s)
	}
}

func isInterpreter(base string) bool {
	for _, p := range []string{"python", "perl", "ruby", "node", "php", "lua", "Rscript", "tclsh", "deno", "bun"} {
		if strings.HasPrefix(base, p) {
			return true
		}
	}
	return false
}

func (a *shAnalyzer) addPV(line, col int, v pathVerdict) {
	if v.rule != "" {
		a.add(line, col, v.rule, v.reason)
	}
}

func anyContains(w []shWord, subs ...string) bool {
	for _, x := range w {
		for _, s := range subs {
			if strings.Contains(x.s, s) {
				return true
			}
		}
	}
	return false
}

func anyIs(w []shWord, vals ...string) bool {
	for _, x := range w {
		for _, s := range vals {
			if x.known && x.s == s {
				return true
			}
		}
	}
	return false
}

func firstText(w []shWord) string {
	if len(w) == 0 {
		return ""
	}
	return w[0].s
}

func (a *shAnalyzer) sleep(line, col int, args []shWord) {
	for _, x := range operands(args) {
		if !x.known {
			a.add(line, col, "resource.sleep", "sleeps for a computed time")
			return
		}
		if x.s == "infinity" || durationSeconds(x.s) >= 60 {
			a.add(line, col, "resource.sleep", "sleeps for a minute or more")
			return
		}
	}
}

// durationSeconds reads a sleep(1) duration such as 90, 1.5m or 2h.
func durationSeconds(s string) float64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "s"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s, mult = s[:len(s)-1], 60
	case strings.HasSuffix(s, "h"):
		s, mult = s[:len(s)-1], 3600
	case strings.HasSuffix(s, "d"):
		s, mult = s[:len(s)-1], 86400
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return f * mult
}

func (a *shAnalyzer) download(line, col int, base string, args []shWord) {
	send := hasFlag(args, "dFT", "--data", "--data-binary", "--data-raw", "--data-urlencode", "--form",
		"--upload-file", "--post-data", "--post-file", "--body-data", "--body-file", "--method", "--json")
	for i, x := range args {
		if x.known && (x.s == "-X" || x.s == "--request") && i+1 < len(args) {
			m := strings.ToUpper(args[i+1].s)
			send = send || (m != "GET" && m != "HEAD")
		}
		if x.known && (x.s == "-o" || x.s == "-O" || x.s == "--output" || x.s == "--output-document") && i+1 < len(args) {
			if t := args[i+1]; t.s != "-" {
				a.downloaded[t.s] = true
				a.fileWrite(line, col, t)
			}
		}
	}
	if send {
		a.add(line, col, "net.socket", "sends data over the network with "+base)
		return
	}
	a.add(line, col, "net.client", "makes a network request with "+base)
}

func (a *shAnalyzer) chmod(line, col int, args []shWord) {
	for _, x := range args {
		m := x.s
		if strings.Contains(m, "+s") || strings.Contains(m, "+t") && strings.Contains(m, "s") ||
			len(m) == 4 && strings.Trim(m, "01234567") == "" && strings.ContainsAny(m[:1], "2467") {
			a.add(line, col, "privilege.escalate", "sets the setuid or setgid bit")
			return
		}
	}
	a.add(line, col, "file.permissions", "changes file permissions")
}

func (a *shAnalyzer) dd(line, col int, args []shWord) {
	for _, x := range args {
		if t, ok := strings.CutPrefix(x.s, "of="); ok {
			if isBlockDevice(cleanPath(t)) {
				a.add(line, col, "destroy.device", "overwrites the device "+t)
				return
			}
			a.fileWrite(line, col, shWord{s: t, known: x.known})
		}
		if t, ok := strings.CutPrefix(x.s, "if="); ok {
			a.fileRead(line, col, shWord{s: t, known: x.known})
		}
	}
	a.add(line, col, "process.spawn", "runs dd")
}

func (a *shAnalyzer) envCommand(line, col int, base string, args []shWord) {
	i := 0
	for i < len(args) && (strings.HasPrefix(args[i].s, "-") || strings.Contains(args[i].s, "=")) {
		if k, _, ok := strings.Cut(args[i].s, "="); ok && envTamperVars[k] {
			a.add(line, col, "env.tamper", "sets "+k+" for the command it runs")
		}
		i++
	}
	if base == "env" && i < len(args) {
		a.subcommand(line, col, args[i:])
		return
	}
	a.add(line, col, "env.read", "prints environment variables")
}

// subcommand judges the command a wrapper (sudo, nohup, xargs) runs.
func (a *shAnalyzer) subcommand(line, col int, w []shWord) {
	for len(w) > 0 && w[0].known && strings.HasPrefix(w[0].s, "-") {
		w = w[1:]
	}
	if len(w) > 0 {
		a.command(line, col, w, nil)
	}
}

// wrapper judges the command that nohup, timeout, xargs and the like run:
// the words after the wrapper's own options and numeric operands.
func (a *shAnalyzer) wrapper(line, col int, base string, args []shWord) {
	if base == "command" && hasFlag(args, "vV") || base == "exec" && len(args) == 0 {
		return
	}
	i := 0
	for i < len(args) && args[i].known {
		x := args[i].s
		switch {
		case wrapperValueFlags[x]:
			i += 2
		case strings.HasPrefix(x, "-"), x != "" && strings.Trim(x, "0123456789.smhdx") == "":
			i++
		default:
			goto found
		}
	}
found:
	if i < len(args) {
		a.command(line, col, args[i:], nil)
	}
}

// wrapperValueFlags take the next word as their value.
var wrapperValueFlags = setOf("-n -I -P -L -d -E -s -a -c -p -k --signal --kill-after")

func (a *shAnalyzer) eval(line, col int, args []shWord) {
	text := make([]string, 0, len(args))
	literal := true
	net, dec := false, false
	for _, x := range args {
		literal = literal && x.known && !x.computed
		net, dec = net || x.net, dec || x.decoded
		text = append(text, x.s)
	}
	switch {
	case net:
		a.add(line, col, "net.download-exec", "evaluates code that came from the network")
	case dec:
		a.add(line, col, "exec.dynamic", "evaluates decoded data as code")
	case !literal:
		a.add(line, col, "exec.dynamic", "evaluates code that is not a string literal")
	default:
		a.inline(line, col, Shell, strings.Join(text, " "))
	}
}

// inline judges a literal code string as if it were written here.
func (a *shAnalyzer) inline(line, col int, lang Lang, code string) {
	if a.depth >= maxInlineDepth {
		a.add(line, col, "exec.dynamic", "nests code strings too deeply to judge")
		return
	}
	nested := a.r.nested(nil, line, col)
	judgeCode(a.ctx, nested, lang, []byte(code), a.depth+1)
	a.r.merge(nested)
}

// judgeCode judges a code string in a known language into r.
func judgeCode(ctx context.Context, r *report, lang Lang, code []byte, depth int) {
	switch lang {
	case Python:
		judgePython(ctx, r, code, depth)
	default:
		judgeShell(ctx, r, code, depth)
	}
}

// codeArg finds the literal after -c (shells, Python) or -e (Perl, Ruby,
// Node); ok is false when the flag is absent.
func codeArg(args []shWord, flags ...string) (shWord, bool) {
	for i, x := range args {
		for _, f := range flags {
			if x.known && x.s == f && i+1 < len(args) {
				return args[i+1], true
			}
		}
	}
	return shWord{}, false
}

func (a *shAnalyzer) shell(line, col int, base string, args []shWord) {
	code, ok := codeArg(args, "-c")
	if !ok {
		for _, x := range args {
			if x.net {
				a.add(line, col, "net.download-exec", "runs a script that came from the network")
				return
			}
		}
		ops := operands(args)
		if len(ops) > 0 && a.downloaded[ops[0].s] {
			a.add(line, col, "net.download-exec", "runs "+ops[0].s+", a script it downloaded")
			return
		}
		if len(ops) == 0 {
			if a.inPipe {
				return // judged by the pipeline
			}
			a.add(line, col, "process.spawn", "starts another shell")
			return
		}
		a.add(line, col, "process.spawn", "runs the shell script "+ops[0].s)
		return
	}
	a.codeString(line, col, Shell, code)
}

func (a *shAnalyzer) codeString(line, col int, lang Lang, code shWord) {
	switch {
	case code.net:
		a.add(line, col, "net.download-exec", "runs code that came from the network")
	case code.decoded:
		a.add(line, col, "exec.dynamic", "runs decoded data as code")
	case !code.known:
		a.add(line, col, "process.computed", "runs code built at run time")
	default:
		a.inline(line, col, lang, code.s)
	}
}

func (a *shAnalyzer) interpreter(line, col int, base string, args []shWord) {
	if strings.HasPrefix(base, "python") {
		if code, ok := codeArg(args, "-c"); ok {
			a.codeString(line, col, Python, code)
			return
		}
	}
	for _, flag := range []string{"-e", "-E", "-r"} {
		if code, ok := codeArg(args, flag); ok && code.known {
			a.embeddedCommands(line, col, code.s)
		}
	}
	ops := operands(args)
	if len(ops) == 0 && a.inPipe {
		return
	}
	if len(ops) > 0 && a.downloaded[ops[0].s] {
		a.add(line, col, "net.download-exec", "runs "+ops[0].s+", a script it downloaded")
		return
	}
	a.add(line, col, "process.spawn", "runs the interpreter "+base)
}

// textTool judges the files a plain text tool reads or writes.
func (a *shAnalyzer) textTool(line, col int, base string, args []shWord) {
	ops := operands(args)
	switch base {
	case "echo", "printf", "test", "[", "[[", "expr", "seq", "true", "false", ":", "read", "cd", "pwd",
		"exit", "return", "break", "continue", "shift", "set", "unset", "local", "declare", "typeset",
		"readonly", "getopts", "wait", "trap", "shopt", "umask", "alias", "unalias", "type", "hash",
		"let", "date", "yes", "bc", "basename", "dirname", "pushd", "popd", "dirs", "caller":
		return
	case "printenv":
		a.add(line, col, "env.read", "prints environment variables")
		return
	case "tee", "mkdir", "touch":
		for _, t := range ops {
			a.fileWrite(line, col, t)
		}
		return
	case "cp", "mv", "ln":
		for i, t := range ops {
			if i == len(ops)-1 {
				a.fileWrite(line, col, t)
			} else {
				a.fileRead(line, col, t)
			}
		}
		return
	case "rmdir", "unlink":
		for _, t := range ops {
			a.addPV(line, col, judgeDelete(t.s, false, t.known))
		}
		return
	case "find":
		a.find(line, col, args)
		return
	}
	if (base == "awk" || base == "gawk") && len(ops) > 0 {
		if strings.Contains(ops[0].s, "system(") || strings.Contains(ops[0].s, "| getline") || strings.Contains(ops[0].s, "|&") {
			a.add(line, col, "process.spawn", "runs commands from inside awk")
			a.embeddedCommands(line, col, ops[0].s)
		}
	}
	if textPattern[base] && !hasFlag(args, "ef", "--expression", "--file", "--regexp") && len(ops) > 0 {
		ops = ops[1:]
	}
	write := base == "sed" && hasFlag(args, "i", "--in-place")
	for _, t := range ops {
		if write {
			a.fileWrite(line, col, t)
		} else {
			a.fileRead(line, col, t)
		}
	}
}

func (a *shAnalyzer) find(line, col int, args []shWord) {
	var roots []shWord
	for i, x := range args {
		if x.known && strings.HasPrefix(x.s, "-") {
			switch x.s {
			case "-delete":
				for _, r := range roots {
					a.addPV(line, col, judgeDelete(r.s, true, r.known))
				}
				if len(roots) == 0 {
					a.addPV(line, col, judgeDelete(".", true, true))
				}
			case "-exec", "-execdir", "-ok", "-okdir":
				end := i + 1
				for end < len(args) && args[end].s != ";" && args[end].s != "+" {
					end++
				}
				if end > i+1 {
					a.add(line, col, "process.spawn", "runs a command for every file it finds")
					sub := make([]shWord, 0, end-i-1)
					for _, y := range args[i+1 : end] {
						if y.s == "{}" {
							y = shWord{}
						}
						sub = append(sub, y)
					}
					a.command(line, col, sub, nil)
				}
			}
			continue
		}
		if len(roots) == i {
			roots = append(roots, x)
			a.fileRead(line, col, x)
		}
	}
}

func (a *shAnalyzer) fileRead(line, col int, t shWord) {
	if t.known || strings.HasPrefix(t.s, "/") || strings.HasPrefix(t.s, "~") {
		a.addPV(line, col, judgePath(t.s, false))
	}
}

func (a *shAnalyzer) fileWrite(line, col int, t shWord) {
	if t.known || strings.HasPrefix(t.s, "/") || strings.HasPrefix(t.s, "~") {
		a.addPV(line, col, judgePath(t.s, true))
	}
}

// systemCall finds the literal argument of system("…"), exec("…") or a
// backtick command in the code of a language Mai does not parse (awk,
// Perl, Ruby, Node).
var systemCall = regexp.MustCompile("(?:system|exec|popen|spawn|execSync)\\s*\\(?\\s*(?:\"([^\"]*)\"|'([^']*)')|`([^`]*)`")

// embeddedCommands judges the literal shell commands such code runs; the
// interpreter itself is already HIGH, this finds the BLOCKED ones.
func (a *shAnalyzer) embeddedCommands(line, col int, code string) {
	for _, m := range systemCall.FindAllStringSubmatch(code, 8) {
		for _, cmd := range m[1:] {
			if cmd != "" {
				a.inline(line, col, Shell, cmd)
			}
		}
	}
}
