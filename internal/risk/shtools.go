package risk

// The rules for single external tools: file tools, downloads, permissions.

import (
	"strconv"
	"strings"
)

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
	rec := hasFlag(args, "R", "--recursive")
	for _, t := range operands(args)[min(1, len(operands(args))):] {
		p := cleanPath(t.s)
		if t.known && (p == "/" || rec && !insideWorkdir(p) || underAny(p, systemDirs...)) {
			a.add(line, col, "system.tamper", "changes the permissions of "+t.s+", part of the system")
			return
		}
	}
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

// systemDirs hold the system's programs and configuration.
var systemDirs = []string{"/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/sys", "/proc", "/var", "/opt", "/root"}

func (a *shAnalyzer) dd(line, col int, args []shWord) {
	for _, x := range args {
		if t, ok := strings.CutPrefix(x.s, "of="); ok {
			if !x.known && strings.HasPrefix(t, "/dev/") {
				a.add(line, col, "destroy.device", "overwrites a device whose name is computed")
				return
			}
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
	if base == "sed" {
		for _, sc := range sedScripts(args, ops) {
			a.sedScript(line, col, sc)
		}
	}
	if (base == "awk" || base == "gawk") && len(ops) > 0 {
		if code := awkCode(ops[0].s); strings.Contains(code, "system(") || strings.Contains(code, "| getline") ||
			strings.Contains(code, "|&") || !ops[0].known {
			a.add(line, col, "process.spawn", "runs commands from inside awk")
			a.embeddedCommands(line, col, ops[0].s)
		}
	}
	if textPattern[base] && !hasFlag(args, "ef", "--expression", "--file", "--regexp") && len(ops) > 0 {
		ops = ops[1:]
	} else if textPattern[base] {
		ops = withoutScripts(args)
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

// withoutScripts returns the operands of a text tool given its program
// with -e or -f: the words after those flags are not files it reads.
func withoutScripts(args []shWord) []shWord {
	var out []shWord
	for i := 0; i < len(args); i++ {
		x := args[i]
		if x.known && (x.s == "-e" || x.s == "-f" || x.s == "--expression" || x.s == "--file" || x.s == "--regexp") {
			i++
			continue
		}
		out = append(out, x)
	}
	return operands(out)
}

// sedScripts returns the scripts a sed command runs: each -e value, or its
// first operand.
func sedScripts(args, ops []shWord) []string {
	var out []string
	for i, x := range args {
		if x.known && (x.s == "-e" || x.s == "--expression") && i+1 < len(args) {
			out = append(out, args[i+1].s)
		} else if v, ok := strings.CutPrefix(x.s, "--expression="); ok {
			out = append(out, v)
		}
	}
	if len(out) == 0 && len(ops) > 0 && !hasFlag(args, "f", "--file") {
		out = append(out, ops[0].s)
	}
	return out
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
							y = foundPath(roots)
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

// foundPath is what {} stands for in find -exec: a file under the roots.
// A command run on every file under / or ~ is judged as run on the root
// itself, since that is what it reaches; inside the working directory the
// file is unknown.
func foundPath(roots []shWord) shWord {
	if len(roots) == 0 {
		return shWord{}
	}
	for _, r := range roots {
		if r.known && !insideWorkdir(cleanPath(r.s)) {
			return r
		}
	}
	return shWord{}
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
