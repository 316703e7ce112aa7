package risk

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// shellVars are set by the shell itself; reading them is not reading the
// environment.
var shellVars = setOf(`PWD OLDPWD RANDOM LINENO SECONDS BASH_SOURCE BASH_REMATCH FUNCNAME IFS
	PPID UID EUID BASHPID BASH_VERSION BASH_LINENO PIPESTATUS OPTARG OPTIND REPLY HOSTNAME
	SHLVL BASH COLUMNS LINES EPOCHSECONDS EPOCHREALTIME GROUPS`)

// word expands w as far as the script's own assignments allow, analysing
// the substitutions inside it.
func (a *shAnalyzer) word(w *syntax.Word, line, col int) shWord {
	out := shWord{known: true}
	var b strings.Builder
	a.parts(w.Parts, &b, &out, line, col)
	out.s = b.String()
	return out
}

func (a *shAnalyzer) parts(parts []syntax.WordPart, b *strings.Builder, out *shWord, line, col int) {
	stop := func() { out.known = false }
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if out.known {
				b.WriteString(unbackslash(p.Value))
			}
		case *syntax.SglQuoted:
			if out.known && p.Dollar {
				b.WriteString(pyUnescape(p.Value)) // $'\x72\x6d' is rm
			} else if out.known {
				b.WriteString(p.Value)
			}
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if l, ok := q.(*syntax.Lit); ok {
					if out.known {
						b.WriteString(dqUnescape(l.Value))
					}
					continue
				}
				a.parts([]syntax.WordPart{q}, b, out, line, col)
			}
		case *syntax.ParamExp:
			a.param(p, b, out, line, col)
		case *syntax.CmdSubst:
			a.list(p.Stmts)
			out.net = out.net || downloads(p.Stmts)
			out.decoded = out.decoded || decodes(p.Stmts)
			if s, ok := foldSubst(p.Stmts); ok {
				out.computed = true
				if out.known {
					b.WriteString(s)
				}
				continue
			}
			stop()
		case *syntax.ProcSubst:
			a.list(p.Stmts)
			out.net = out.net || downloads(p.Stmts)
			out.decoded = out.decoded || decodes(p.Stmts)
			stop()
		default:
			a.substs(p, line, col)
			stop()
		}
	}
}

func (a *shAnalyzer) param(p *syntax.ParamExp, b *strings.Builder, out *shWord, line, col int) {
	if p.Param == nil {
		out.known = false
		return
	}
	name := p.Param.Value
	if a.posKnown && !p.Excl && !p.Length && p.Slice == nil && p.Repl == nil && p.Index == nil && p.Exp == nil {
		if v, ok := a.positional(name); ok {
			appendValue(b, out, v)
			return
		}
	}
	if p.Exp != nil && p.Exp.Word != nil {
		a.word(p.Exp.Word, line, col)
	}
	if p.Excl || p.Length || p.Slice != nil || p.Repl != nil || p.Index != nil {
		out.known, out.computed = false, true
		if p.Excl {
			out.input = true
		}
		return
	}
	if v, ok := a.vars[name]; ok {
		appendValue(b, out, v)
		return
	}
	a.paramRead(name, line, col)
	if name == "HOME" && out.known {
		b.WriteString("~")
		out.computed = true
		return
	}
	out.known, out.computed, out.input = false, true, true
}

// appendValue expands a variable's value into the word being built.
func appendValue(b *strings.Builder, out *shWord, v shWord) {
	out.computed = true
	out.net, out.decoded, out.input = out.net || v.net, out.decoded || v.decoded, out.input || v.input
	if out.known {
		b.WriteString(v.s)
	}
	out.known = out.known && v.known
}

// paramRead notices a read of an environment variable.
func (a *shAnalyzer) paramRead(name string, line, col int) {
	if a.assigned[name] || shellVars[name] || !isEnvName(name) {
		return
	}
	if secretEnvName(name) {
		a.add(line, col, "secret.read", "reads the environment variable "+name+", which looks like a secret")
		return
	}
	a.add(line, col, "env.read", "reads the environment variable "+name)
}

// isEnvName rejects the special parameters ($1, $@, $?, ...).
func isEnvName(name string) bool {
	if name == "" {
		return false
	}
	c := name[0]
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

var downloaders = setOf("curl wget nc ncat netcat fetch aria2c")

// downloads reports whether stmts run a downloader.
func downloads(stmts []*syntax.Stmt) bool { return anyCommand(stmts, downloaders) }

var decoders = setOf("base64 xxd openssl gunzip zcat gzip uudecode rev")

func decodes(stmts []*syntax.Stmt) bool { return anyCommand(stmts, decoders) }

func anyCommand(stmts []*syntax.Stmt, names map[string]bool) bool {
	found := false
	for _, s := range stmts {
		syntax.Walk(s, func(n syntax.Node) bool {
			if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 {
				if names[baseName(c.Args[0].Lit())] {
					found = true
				}
			}
			return !found
		})
	}
	return found
}

func baseName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// unbackslash removes the shell's backslash quoting from an unquoted
// literal: \rm runs rm.
func unbackslash(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
