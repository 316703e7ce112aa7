package risk

// Commands that run code: eval, shells and interpreters with code strings,
// and the wrappers (nohup, timeout, xargs) around another command.

import (
	"context"
	"regexp"
	"strings"
)

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
		case strings.HasPrefix(x, "-"), x != "" && x[0] >= '0' && x[0] <= '9' && strings.Trim(x, "0123456789.smhdx") == "":
			i++
		default:
			goto found
		}
	}
found:
	if i >= len(args) {
		return
	}
	cmd := args[i:]
	if base == "xargs" {
		cmd = xargsCommand(args[:i], cmd, a.pipeInput)
	}
	a.command(line, col, cmd, nil)
}

// xargsCommand returns the command xargs runs: the words holding its
// replacement string, or else one more word, come from its input.
func xargsCommand(opts, cmd []shWord, input shWord) []shWord {
	repl := ""
	for i, x := range opts {
		switch {
		case x.s == "-I" && i+1 < len(opts):
			repl = opts[i+1].s
		case strings.HasPrefix(x.s, "-I") && len(x.s) > 2:
			repl = x.s[2:]
		case x.s == "-i" || x.s == "--replace":
			repl = "{}"
		case strings.HasPrefix(x.s, "--replace="):
			repl = strings.TrimPrefix(x.s, "--replace=")
		}
	}
	out := make([]shWord, 0, len(cmd)+1)
	for _, w := range cmd {
		if repl != "" && strings.Contains(w.s, repl) {
			w = shWord{s: w.s[:strings.Index(w.s, repl)], input: true}
			if input.known {
				w = input
			}
		}
		out = append(out, w)
	}
	if repl == "" {
		if !input.known {
			input = shWord{input: true}
		}
		out = append(out, input)
	}
	return out
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
