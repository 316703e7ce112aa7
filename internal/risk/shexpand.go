package risk

// Expanding a command's words as bash would, as far as they are constant:
// positional parameters at function call sites and after `set --`, field
// splitting of unquoted expansions by IFS, brace expansion, and command
// substitutions of printf and echo with literal arguments.

import (
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// maxBraceWords bounds the words one brace expansion may produce.
const maxBraceWords = 64

// expandArgs expands the words of a simple command into fields.
func (a *shAnalyzer) expandArgs(args []*syntax.Word, line, col int) []shWord {
	out := make([]shWord, 0, len(args))
	for _, w := range args {
		if a.posKnown && isAllPositional(w) {
			for _, p := range a.pos {
				p.computed = true
				out = append(out, p)
			}
			continue
		}
		if braceWords := braceExpand(w); braceWords != nil {
			for _, bw := range braceWords {
				x := a.word(bw, line, col)
				x.computed = true
				out = append(out, x)
			}
			continue
		}
		x := a.word(w, line, col)
		if x.known && x.computed && !hasQuotes(w) {
			out = append(out, a.splitFields(x)...)
			continue
		}
		out = append(out, x)
	}
	return out
}

// isAllPositional reports $@, $*, "$@" and "$*".
func isAllPositional(w *syntax.Word) bool {
	parts := w.Parts
	if len(parts) == 1 {
		if dq, ok := parts[0].(*syntax.DblQuoted); ok {
			parts = dq.Parts
		}
	}
	if len(parts) != 1 {
		return false
	}
	pe, ok := parts[0].(*syntax.ParamExp)
	return ok && pe.Param != nil && (pe.Param.Value == "@" || pe.Param.Value == "*") && pe.Exp == nil && pe.Index == nil
}

func hasQuotes(w *syntax.Word) bool {
	for _, p := range w.Parts {
		switch p.(type) {
		case *syntax.SglQuoted, *syntax.DblQuoted:
			return true
		}
	}
	return false
}

// splitFields splits an unquoted expansion at the characters of IFS.
func (a *shAnalyzer) splitFields(x shWord) []shWord {
	ifs := " \t\n"
	if v, ok := a.vars["IFS"]; ok && v.known {
		ifs = v.s
	}
	if ifs == "" {
		return []shWord{x}
	}
	fields := strings.FieldsFunc(x.s, func(r rune) bool { return strings.ContainsRune(ifs, r) })
	if len(fields) <= 1 {
		return []shWord{x}
	}
	out := make([]shWord, len(fields))
	for i, f := range fields {
		y := x
		y.s = f
		out[i] = y
	}
	return out
}

// braceExpand returns the words of a brace expansion such as {rm,-rf,/},
// or nil when w has none (or one too large to follow).
func braceExpand(w *syntax.Word) []*syntax.Word {
	hasBrace := false
	for _, p := range w.Parts {
		if l, ok := p.(*syntax.Lit); ok && strings.Contains(l.Value, "{") && strings.Contains(l.Value, "}") {
			hasBrace = true
		}
	}
	if !hasBrace {
		return nil
	}
	c := &syntax.Word{Parts: append([]syntax.WordPart(nil), w.Parts...)}
	if !syntax.SplitBraces(c) {
		return nil
	}
	n := 1
	for _, p := range c.Parts {
		if b, ok := p.(*syntax.BraceExp); ok {
			if b.Sequence {
				return nil
			}
			n *= len(b.Elems)
			if n > maxBraceWords {
				return nil
			}
		}
	}
	return expand.Braces(c)
}

// foldSubst returns the output of $(printf …) or $(echo …) when its
// arguments are literal.
func foldSubst(stmts []*syntax.Stmt) (string, bool) {
	if len(stmts) != 1 {
		return "", false
	}
	c, ok := stmts[0].Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) == 0 || len(stmts[0].Redirs) > 0 {
		return "", false
	}
	words := make([]string, len(c.Args))
	for i, w := range c.Args {
		if words[i] = literalWord(w); words[i] == "" && len(w.Parts) > 0 {
			if _, empty := w.Parts[0].(*syntax.SglQuoted); !empty {
				return "", false
			}
		}
	}
	switch words[0] {
	case "printf":
		if len(words) < 2 {
			return "", false
		}
		s, ok := shPrintf(words[1], words[2:])
		return strings.TrimRight(s, "\n"), ok
	case "echo":
		args, esc := words[1:], false
		for len(args) > 0 && (args[0] == "-n" || args[0] == "-e" || args[0] == "-E" || args[0] == "-ne" || args[0] == "-en") {
			esc = esc || strings.Contains(args[0], "e")
			args = args[1:]
		}
		s := strings.Join(args, " ")
		if esc {
			s = shUnescape(s)
		}
		return strings.TrimRight(s, "\n"), true
	}
	return "", false
}

// shPrintf renders printf's format with literal arguments, reusing the
// format while arguments remain, as bash does.
func shPrintf(format string, args []string) (string, bool) {
	var b strings.Builder
	for pass := 0; pass == 0 || len(args) > 0; pass++ {
		used := false
		for i := 0; i < len(format); i++ {
			c := format[i]
			if c == '\\' && i+1 < len(format) && format[i+1] == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
			if c == '\\' {
				j := i + 1
				for j < len(format) && j < i+4 && format[j] != '\\' && format[j] != '%' {
					j++
				}
				s := shUnescape(format[i:j])
				b.WriteString(s)
				i = j - 1
				continue
			}
			if c != '%' || i+1 >= len(format) {
				b.WriteByte(c)
				continue
			}
			i++
			for i < len(format) && strings.IndexByte("-+ #0123456789.", format[i]) >= 0 {
				i++
			}
			if i >= len(format) {
				return "", false
			}
			if format[i] == '%' {
				b.WriteByte('%')
				continue
			}
			arg := ""
			if len(args) > 0 {
				arg, args, used = args[0], args[1:], true
			}
			switch format[i] {
			case 's', 'd', 'i', 'u':
				b.WriteString(arg)
			case 'b':
				b.WriteString(shUnescape(arg))
			case 'c':
				if arg != "" {
					b.WriteByte(arg[0])
				}
			default:
				return "", false
			}
		}
		if !used {
			break
		}
	}
	return b.String(), true
}

// shUnescape interprets printf's and echo -e's backslash escapes.
func shUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '\\':
			b.WriteByte('\\')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			if v, err := strconv.ParseUint(s[i+1:j], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i = j - 1
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			if s[j] == '0' {
				j++
			}
			k := j
			for k < len(s) && k < j+3 && s[k] >= '0' && s[k] <= '7' {
				k++
			}
			if v, err := strconv.ParseUint(s[j:k], 8, 8); err == nil {
				b.WriteByte(byte(v))
			}
			i = k - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
