package risk

// Shell features that run code given as text or as arguments: functions
// (judged again at each call site with its arguments), trap, alias,
// source of a file or a process substitution, sed's e command.

import (
	"regexp"
	"strconv"
	"strings"
)

// Bounds on judging functions at their call sites, so that the analysis
// stays linear: nested calls, and call sites judged per script.
const (
	maxFuncDepth = 4
	maxFuncCalls = 32
)

// positional returns the value of $1…$9, $@, $* and $# when known.
func (a *shAnalyzer) positional(name string) (shWord, bool) {
	switch name {
	case "@", "*":
		parts := make([]string, len(a.pos))
		w := shWord{known: true}
		for i, p := range a.pos {
			parts[i] = p.s
			w.known = w.known && p.known
			w.net, w.decoded, w.input = w.net || p.net, w.decoded || p.decoded, w.input || p.input
		}
		w.s = strings.Join(parts, " ")
		return w, true
	case "#":
		return shWord{s: strconv.Itoa(len(a.pos)), known: true}, true
	}
	n, err := strconv.Atoi(name)
	if err != nil || n < 1 {
		return shWord{}, false
	}
	if n > len(a.pos) {
		return shWord{known: true}, true
	}
	return a.pos[n-1], true
}

// callFunc judges a function's body again with the call's arguments as
// its positional parameters: f() { rm -rf "$1"; }; f / deletes /.
func (a *shAnalyzer) callFunc(name string, args []shWord) {
	body := a.funcBodies[name]
	if body == nil || len(args) == 0 || a.calling[name] || len(a.calling) >= maxFuncDepth || a.funcCalls >= maxFuncCalls {
		return
	}
	a.funcCalls++
	a.calling[name] = true
	pos, known := a.pos, a.posKnown
	a.pos, a.posKnown = args, true
	a.stmt(body)
	a.pos, a.posKnown = pos, known
	delete(a.calling, name)
}

// source judges `source file` and `. file`: a script from the network or
// a computed name is judged as what it may hold.
func (a *shAnalyzer) source(line, col int, args []shWord) {
	ops := operands(args)
	if len(ops) == 0 {
		return
	}
	x := ops[0]
	switch {
	case x.net || a.downloaded[x.s]:
		a.add(line, col, "net.download-exec", "runs shell code that came from the network")
	case x.decoded:
		a.add(line, col, "exec.dynamic", "runs decoded data as shell code")
	case !x.known:
		a.add(line, col, "process.computed", "runs a shell file whose name or content is computed")
	default:
		a.add(line, col, "process.spawn", "runs the shell file "+x.s)
	}
}

// trap judges the code a trap runs as if it were written here.
func (a *shAnalyzer) trap(line, col int, args []shWord) {
	if len(args) < 2 || args[0].known && strings.HasPrefix(args[0].s, "-") {
		return
	}
	a.codeString(line, col, Shell, args[0])
}

// alias judges an alias's body as the code it expands to.
func (a *shAnalyzer) alias(line, col int, args []shWord) {
	for _, x := range args {
		name, body, ok := strings.Cut(x.s, "=")
		if !ok || name == "" {
			continue
		}
		x.s = body
		a.codeString(line, col, Shell, x)
	}
}

// install judges install(1): the mode it sets, and the file it writes.
func (a *shAnalyzer) install(line, col int, args []shWord) {
	for i, x := range args {
		mode, ok := "", false
		switch {
		case x.s == "-m" && i+1 < len(args):
			mode, ok = args[i+1].s, true
		case strings.HasPrefix(x.s, "--mode="):
			mode, ok = strings.TrimPrefix(x.s, "--mode="), true
		case strings.HasPrefix(x.s, "-m") && len(x.s) > 2:
			mode, ok = x.s[2:], true
		}
		if ok && setuidMode(mode) {
			a.add(line, col, "privilege.escalate", "installs a file with the setuid or setgid bit")
			return
		}
	}
	ops := operands(args)
	if len(ops) > 0 {
		a.fileWrite(line, col, ops[len(ops)-1])
	}
	a.add(line, col, "process.spawn", "runs install")
}

// setuidMode reports a chmod-style mode with the setuid or setgid bit.
func setuidMode(m string) bool {
	if strings.Contains(m, "+s") || strings.Contains(m, "u+s") || strings.Contains(m, "g+s") {
		return true
	}
	if strings.Trim(m, "01234567") != "" || len(m) < 4 {
		return false
	}
	v, err := strconv.ParseUint(m, 8, 32)
	return err == nil && v&0o6000 != 0
}

// sedScript judges the commands of a sed script that run shell code: the e
// command and the e flag of s.
func (a *shAnalyzer) sedScript(line, col int, script string) {
	for _, cmd := range strings.FieldsFunc(script, func(r rune) bool { return r == ';' || r == '\n' }) {
		cmd = sedAddress.ReplaceAllString(strings.TrimSpace(cmd), "")
		switch {
		case cmd == "e":
			a.add(line, col, "process.computed", "sed runs the text it reads as shell commands")
		case strings.HasPrefix(cmd, "e ") || strings.HasPrefix(cmd, "e\t"):
			a.add(line, col, "process.spawn", "sed runs a shell command")
			a.inline(line, col, Shell, strings.TrimSpace(cmd[1:]))
		case len(cmd) > 1 && cmd[0] == 's':
			parts := splitSed(cmd[2:], cmd[1])
			if len(parts) >= 3 && strings.Contains(parts[len(parts)-1], "e") {
				a.add(line, col, "process.computed", "sed runs the result of a substitution as a shell command")
				a.inline(line, col, Shell, parts[1])
			}
		}
	}
}

var sedAddress = regexp.MustCompile(`^(\d+|\$|/[^/]*/)(\s*,\s*(\d+|\$|/[^/]*/))?\s*!?\s*`)

// awkCode returns awk source with its string literals emptied, so that a
// word inside a printed string is not taken for a call.
func awkCode(src string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case in && c == '\\' && i+1 < len(src):
			i++
		case c == '"':
			in = !in
			b.WriteByte(c)
		case !in:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitSed splits the rest of an s command at its delimiter, honouring
// backslash escapes of the delimiter.
func splitSed(s string, delim byte) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == delim:
			b.WriteByte(delim)
			i++
		case s[i] == delim:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(s[i])
		}
	}
	return append(out, b.String())
}
