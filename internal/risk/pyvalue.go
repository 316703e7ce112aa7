package risk

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// pval is what the analysis knows about a Python expression's value: a
// constant it folded, the dotted name of a module or callable it refers
// to, and where its data came from.
type pval struct {
	str    string
	isStr  bool
	num    int64
	isNum  bool
	qual   string // "os", "os.system", "socket.socket()" (an instance)
	list   []pval // elements of a list or tuple literal
	isList bool
	dict   map[string]pval // the string-keyed entries of a dict literal
	// folded marks a constant produced by computation (concatenation,
	// chr, format, getattr) rather than written as one literal.
	folded bool
	// decoded marks data that went through a decoder or byte arithmetic.
	decoded bool
	// input marks data from arguments, standard input or the environment.
	input bool
	// net marks data that came from the network.
	net bool
	// prefix is the literal start of a computed string, for path rules.
	prefix string
	// computedName marks a qual reached by getattr/__import__ with a
	// name that was not a single literal.
	computedName bool
	// unresolved marks a qual reached by a name that could not be folded.
	unresolved bool
}

// maxFolded bounds the strings the analysis builds by folding, so that a
// long chain of concatenations stays linear: each step copies at most this.
const maxFolded = 8 << 10

// maxFoldedList bounds the elements of a list literal the analysis keeps,
// so that memory stays proportional to what a rule can use.
const maxFoldedList = 4096

func strVal(s string) pval { return pval{str: s, isStr: true, prefix: s} }

// taint returns the data-origin marks of vs combined.
func taint(vs ...pval) pval {
	var t pval
	for _, v := range vs {
		t.decoded = t.decoded || v.decoded
		t.input = t.input || v.input
		t.net = t.net || v.net
		for _, e := range v.list {
			t.decoded = t.decoded || e.decoded
			t.input = t.input || e.input
			t.net = t.net || e.net
		}
	}
	return t
}

// withTaint copies the origin marks of vs onto v.
func (v pval) withTaint(vs ...pval) pval {
	t := taint(vs...)
	v.decoded, v.input, v.net = v.decoded || t.decoded, v.input || t.input, v.net || t.net
	return v
}

// known reports whether the value is a fully folded string.
func (v pval) known() bool { return v.isStr }

// text returns the folded string, or the literal prefix when unknown.
func (v pval) text() string {
	if v.isStr {
		return v.str
	}
	return v.prefix
}

// concat folds a + b for strings, numbers and lists.
func concat(a, b pval) pval {
	switch {
	case a.isStr && b.isStr && len(a.str)+len(b.str) > maxFolded:
		return pval{prefix: a.str[:min(len(a.str), maxFolded)]}.withTaint(a, b)
	case a.isStr && b.isStr:
		r := strVal(a.str + b.str)
		r.folded = true
		return r.withTaint(a, b)
	case a.isNum && b.isNum:
		return pval{num: a.num + b.num, isNum: true, folded: true}.withTaint(a, b)
	case a.isList && b.isList:
		return pval{list: append(append([]pval(nil), a.list...), b.list...), isList: true}.withTaint(a, b)
	}
	return pval{prefix: a.text()}.withTaint(a, b)
}

// pyFormat folds "%s" % args and "{}".format(args) for literal arguments;
// it returns false when a placeholder's value is unknown.
func pyFormat(format string, args []pval, percent bool) (string, bool) {
	var b strings.Builder
	next := 0
	arg := func(i int) (string, bool) {
		if i < 0 || i >= len(args) {
			return "", false
		}
		a := args[i]
		switch {
		case a.isStr:
			return a.str, true
		case a.isNum:
			return strconv.FormatInt(a.num, 10), true
		}
		return "", false
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case percent && c == '%' && i+1 < len(format):
			j := i + 1
			for j < len(format) && strings.IndexByte("-+ #0123456789.", format[j]) >= 0 {
				j++
			}
			if j < len(format) && format[j] == '%' {
				b.WriteByte('%')
			} else {
				s, ok := arg(next)
				if !ok {
					return "", false
				}
				next++
				b.WriteString(s)
			}
			i = j
		case !percent && c == '{' && i+1 < len(format) && format[i+1] == '{':
			b.WriteByte('{')
			i++
		case !percent && c == '}' && i+1 < len(format) && format[i+1] == '}':
			b.WriteByte('}')
			i++
		case !percent && c == '{':
			j := strings.IndexByte(format[i:], '}')
			if j < 0 {
				return "", false
			}
			field, _, _ := strings.Cut(format[i+1:i+j], ":")
			idx := next
			if field != "" {
				n, err := strconv.Atoi(field)
				if err != nil {
					return "", false
				}
				idx = n
			} else {
				next++
			}
			s, ok := arg(idx)
			if !ok {
				return "", false
			}
			b.WriteString(s)
			i += j
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// decodeConst tries to decode a literal payload the way the named decoder
// would, so the payload can be judged too.
func decodeConst(decoder string, v pval, extra string) (string, bool) {
	if !v.isStr {
		return "", false
	}
	s := v.str
	switch {
	case strings.Contains(decoder, "b64decode"), strings.HasSuffix(decoder, "decodebytes"),
		strings.HasSuffix(decoder, "a2b_base64"):
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
			if b, err := enc.DecodeString(strings.TrimSpace(s)); err == nil {
				return string(b), true
			}
		}
	case strings.HasSuffix(decoder, "fromhex"), strings.HasSuffix(decoder, "unhexlify"),
		strings.HasSuffix(decoder, "a2b_hex"):
		if b, err := hex.DecodeString(strings.ReplaceAll(s, " ", "")); err == nil {
			return string(b), true
		}
	case decoder == "codecs.decode" || decoder == "codecs.encode":
		e := strings.ToLower(strings.ReplaceAll(extra, "-", "_"))
		if e == "rot13" || e == "rot_13" {
			return rot13(s), true
		}
		if e == "hex" {
			if b, err := hex.DecodeString(s); err == nil {
				return string(b), true
			}
		}
		if e == "base64" {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
				return string(b), true
			}
		}
	}
	return "", false
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// unquotePy returns the content of a Python string literal node's text,
// handling prefixes and the common escapes; ok is false for f-strings
// with interpolations (the caller folds those).
func unquotePy(lit string) (string, bool) {
	i := 0
	raw := false
	for i < len(lit) && strings.IndexByte("rRbBuUfF", lit[i]) >= 0 {
		raw = raw || lit[i] == 'r' || lit[i] == 'R'
		i++
	}
	body := lit[i:]
	for _, q := range []string{`"""`, `'''`, `"`, `'`} {
		if len(body) >= 2*len(q) && strings.HasPrefix(body, q) && strings.HasSuffix(body, q) {
			body = body[len(q) : len(body)-len(q)]
			if raw {
				return body, true
			}
			return pyUnescape(body), true
		}
	}
	return "", false
}

func pyUnescape(s string) string {
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
		switch c := s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\n':
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteString(`\x`)
		case 'u':
			if i+4 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(v))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			if c >= '0' && c <= '7' && i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i:i+3], 8, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			if strings.IndexByte(`\'"`, c) >= 0 {
				b.WriteByte(c)
			} else {
				b.WriteByte('\\')
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}
