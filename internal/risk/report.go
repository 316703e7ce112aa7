package risk

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"
)

const maxExcerpt = 160

// report collects findings for one source text.
type report struct {
	src      []byte
	lines    []int // byte offset of each line start, built lazily
	findings []Finding
	seen     map[seenKey]bool
	// at, when set, pins every finding to the outer code that contains this
	// source (a string passed to eval, bash -c or os.system).
	at *Finding
	// perRule counts the findings kept for each rule; past maxPerRule the
	// rest are only counted in more, so that a long input's findings stay
	// readable and bounded in memory.
	perRule map[string]int
	more    map[string]*Finding
}

// maxPerRule bounds the findings listed for one rule.
const maxPerRule = 64

func newReport(src []byte) *report {
	return &report{src: src, seen: map[seenKey]bool{}, perRule: map[string]int{}, more: map[string]*Finding{}}
}

// nested returns a report for code embedded in r's source at line/col.
func (r *report) nested(src []byte, line, col int) *report {
	at := Finding{Line: line, Column: col, Excerpt: r.excerpt(line)}
	if r.at != nil {
		at = *r.at
	}
	n := newReport(src)
	n.at = &at
	n.seen = r.seen
	return n
}

// merge adds a nested report's findings to r.
func (r *report) merge(n *report) {
	n.summarize()
	r.findings = append(r.findings, n.findings...)
}

// addAt records a finding for rule at a 1-based line and column.
func (r *report) addAt(rule string, line, col int, excerpt, reason string) {
	if r.at != nil {
		line, col, excerpt = r.at.Line, r.at.Column, r.at.Excerpt
		reason = "in the code or command it runs: " + reason
	}
	key := seenKey{rule, line}
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	if r.perRule[rule] >= maxPerRule {
		if m := r.more[rule]; m != nil {
			m.Column++ // counts the findings left out until summarize
		} else {
			r.more[rule] = &Finding{Rule: rule, Level: ruleLevel(rule), Line: line, Column: 1}
		}
		return
	}
	r.perRule[rule]++
	if excerpt == "" {
		excerpt = r.excerpt(line)
	}
	r.findings = append(r.findings, Finding{
		Rule: rule, Level: ruleLevel(rule), Line: line, Column: col,
		Excerpt: excerpt, Reason: reason,
	})
}

// excerpt returns the trimmed text of a 1-based line, shortened to a screen.
func (r *report) excerpt(line int) string {
	if r.src == nil || line < 1 {
		return ""
	}
	if r.lines == nil {
		r.lines = append(r.lines, 0)
		for i, b := range r.src {
			if b == '\n' {
				r.lines = append(r.lines, i+1)
			}
		}
	}
	if line > len(r.lines) {
		return ""
	}
	text := r.src[r.lines[line-1]:]
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	// only the start of a long line can be shown; copying all of it for
	// every finding on it would make the analysis quadratic
	text = bytes.TrimLeft(text, " \t")
	text = text[:min(len(text), 4*maxExcerpt)]
	s := strings.TrimSpace(string(text))
	if len(s) > maxExcerpt {
		cut := maxExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// summarize adds, for each rule with findings left out, one finding that
// says how many more there are, at the first one left out.
func (r *report) summarize() {
	for _, m := range r.more {
		f := *m
		f.Reason = itoa64(int64(f.Column)) + " more findings of this rule from here on are not listed"
		f.Column = 1
		f.Excerpt = r.excerpt(f.Line)
		r.findings = append(r.findings, f)
	}
	clear(r.more)
}

// sorted returns the findings ordered by position, then by level.
func (r *report) sorted() []Finding {
	r.summarize()
	f := r.findings
	less := func(i, j int) bool {
		if f[i].Line != f[j].Line {
			return f[i].Line < f[j].Line
		}
		return f[i].Level > f[j].Level
	}
	if sort.SliceIsSorted(f, less) {
		return f
	}
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Line != f[j].Line {
			return f[i].Line < f[j].Line
		}
		return f[i].Level > f[j].Level
	})
	return f
}

type seenKey struct {
	rule string
	line int
}
