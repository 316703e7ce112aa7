package risk

import (
	"slices"
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
	words := a.expandArgs(c.Args, line, col)
	if len(words) == 0 {
		return
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

// textPattern are the text tools whose first operand is a pattern or a
// program, not a file.
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
		a.callFunc(base, w[1:])
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
	a.lastCmd = base
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
		a.source(line, col, args)
	case "trap":
		a.trap(line, col, args)
	case "alias":
		a.alias(line, col, args)
	case "set":
		if i := slices.IndexFunc(args, func(x shWord) bool { return x.known && x.s == "--" }); i >= 0 {
			a.pos, a.posKnown = append([]shWord(nil), args[i+1:]...), true
		}
	case "install":
		a.install(line, col, args)
	case "hash", "mapfile", "readarray", "complete", "compgen":
		if hasFlag(args, "pCF") {
			add("model.unknown", base+" with that option makes a name run another program or a callback: not modelled")
		}
	case "busybox", "toybox":
		a.subcommand(line, col, args) // busybox rm is rm
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
