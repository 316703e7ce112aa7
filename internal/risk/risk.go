// Package risk judges code by its syntax tree before Mai runs it: Python
// through tree-sitter, shell through mvdan.cc/sh and Go through go/ast. The
// verdict is LOW, MEDIUM, HIGH or BLOCKED, as defined in the risk-levels note;
// it is the highest level of any finding, and every finding names its rule,
// line, column, the source excerpt and a one-sentence reason.
package risk

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"strings"
	"time"
	"unicode/utf8"
)

// Lang names a language the analyser understands.
type Lang string

// The supported languages; the empty Lang asks Analyze to detect it.
const (
	Python Lang = "python"
	Shell  Lang = "sh"
	Go     Lang = "go"
)

// DefaultMaxBytes is the input size above which code is not analysed.
const DefaultMaxBytes = 1 << 20

// Finding is one reason for a verdict.
type Finding struct {
	Rule    string `json:"rule"`
	Level   Level  `json:"level"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Excerpt string `json:"excerpt"`
	Reason  string `json:"reason"`
}

// Verdict is the result of analysing one piece of code.
type Verdict struct {
	Level    Level         `json:"verdict"`
	Lang     Lang          `json:"lang"`
	Findings []Finding     `json:"findings"`
	Parsed   bool          `json:"parsed"`
	Duration time.Duration `json:"-"`
}

// DefaultBudget is how long one analysis may take before it gives up and
// asks for approval ("analysis took too long").
const DefaultBudget = 30 * time.Second

// Analyzer holds the settings of an analysis; the zero value uses the
// built-in rules, the default size cap and the default time budget.
type Analyzer struct {
	// Policy adjusts rule levels; nil means the built-in levels.
	Policy *Policy
	// MaxBytes is the most the analyser parses at once; larger input is
	// judged in parts of at most this size. 0 means DefaultMaxBytes.
	MaxBytes int
	// Budget bounds the time of one analysis; 0 means DefaultBudget.
	Budget time.Duration
}

// Analyze judges source with the built-in rules. An empty lang is detected.
func Analyze(ctx context.Context, lang Lang, source []byte) Verdict {
	return Analyzer{}.Analyze(ctx, lang, "", source)
}

// Analyze judges source; name is the file's path (used for language
// detection and the policy's path exemptions) and may be empty.
func (a Analyzer) Analyze(ctx context.Context, lang Lang, name string, source []byte) Verdict {
	start := time.Now()
	v := a.analyze(ctx, lang, name, source)
	v.Findings = a.Policy.apply(v.Findings, name)
	v.Level = Low
	for _, f := range v.Findings {
		v.Level = max(v.Level, f.Level)
	}
	if v.Findings == nil {
		v.Findings = []Finding{}
	}
	v.Duration = time.Since(start)
	return v
}

// analyze judges src in parts of at most the size limit, so that padding
// can never hide what the rest of the code does: a limit adds a HIGH
// finding, and every finding in what could be read is kept.
func (a Analyzer) analyze(parent context.Context, lang Lang, name string, src []byte) Verdict {
	limit := a.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	budget := a.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	lang = normalizeLang(lang)
	if lang == "" {
		lang = Detect(ctx, name, src[:min(len(src), limit)])
	}
	r := newReport(src)
	switch lang {
	case Python, Shell, Go:
	default:
		r.addAt("parse.unknown-language", 1, 1, "", "the language could not be recognised as Python, shell or Go")
		return Verdict{Lang: lang, Findings: r.findings}
	}
	parts := splitParts(src, limit)
	if len(parts) > 1 {
		r.addAt("input.too-large", 1, 1, "", "the code is larger than the analysis limit, so it was judged in parts; what could be read is judged, and the whole needs approval")
	}
	parsed := len(parts) == 1
	prelude := ""
	for i, p := range parts {
		if ctx.Err() != nil {
			break
		}
		if p.midLine && lang == Go {
			// a piece of a line cannot be Go; the rest of the part can
			p.src = blankFirstLine(p.src)
		}
		if i > 0 {
			// a later part is judged with the imports of the earlier ones,
			// on its first line, so that os.system there is still os.system
			p.src = append([]byte(prelude), p.src...)
		}
		ok := judgePart(ctx, r, lang, p)
		parsed = parsed && ok
		prelude = partPrelude(lang, prelude, parts[i].src, i == 0)
	}
	switch {
	case parent.Err() != nil:
		r.addAt("analysis.incomplete", 1, 1, "", "the analysis was cancelled before it finished")
	case ctx.Err() != nil:
		r.addAt("analysis.timeout", 1, 1, "", "the analysis took too long, so the code was not judged in full")
	}
	return Verdict{Lang: lang, Findings: r.sorted(), Parsed: parsed}
}

// part is a piece of the input judged on its own; line is the line of the
// whole input that it starts on.
type part struct {
	src  []byte
	line int
	// midLine marks a part that starts inside a line longer than the limit
	midLine bool
}

// splitParts cuts src into pieces of at most limit bytes, at line ends
// where there are any.
func splitParts(src []byte, limit int) []part {
	var out []part
	line, mid := 1, false
	for len(src) > limit {
		cut := bytes.LastIndexByte(src[:limit], '\n') + 1
		if cut <= 0 {
			cut = limit
			for cut > 0 && !utf8.RuneStart(src[cut]) {
				cut--
			}
			if cut == 0 {
				cut = limit
			}
		}
		out = append(out, part{src[:cut], line, mid})
		line += bytes.Count(src[:cut], []byte("\n"))
		mid = src[cut-1] != '\n'
		src = src[cut:]
	}
	return append(out, part{src, line, mid})
}

// blankFirstLine returns a copy of src with its first line blanked.
func blankFirstLine(src []byte) []byte {
	out := bytes.Clone(src)
	for i := 0; i < len(out) && out[i] != '\n'; i++ {
		out[i] = ' '
	}
	return out
}

// maxPrelude bounds the imports carried from part to part.
const maxPrelude = 64 << 10

// partPrelude returns the one-line prefix that gives a later part the
// imports of the parts before it: Python's import statements, or Go's
// package clause and import declarations (only the first part has them).
func partPrelude(lang Lang, prelude string, src []byte, first bool) string {
	switch lang {
	case Python:
		var b strings.Builder
		b.WriteString(prelude)
		for _, line := range bytes.Split(src, []byte("\n")) {
			if (bytes.HasPrefix(line, []byte("import ")) || bytes.HasPrefix(line, []byte("from "))) &&
				!bytes.ContainsAny(line, "(\\;") && b.Len()+len(line) < maxPrelude {
				b.Write(bytes.TrimSpace(line))
				b.WriteString("; ")
			}
		}
		return b.String()
	case Go:
		if !first {
			return prelude
		}
		f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.ImportsOnly)
		if f == nil && err != nil {
			return "package p; "
		}
		var b strings.Builder
		b.WriteString("package p; import (")
		for _, is := range f.Imports {
			if is.Name != nil {
				b.WriteString(is.Name.Name + " ")
			}
			b.WriteString(is.Path.Value + "; ")
		}
		b.WriteString("); ")
		return b.String()
	}
	return prelude
}

// judgePart judges one part into r, its lines shifted to the whole input.
// Lines nested deeper than the parsers may recurse are blanked out, with a
// HIGH finding, and the rest is judged.
func judgePart(ctx context.Context, r *report, lang Lang, p part) bool {
	src := p.src
	sub := newReport(src)
	if bracketDepth(src) > maxNesting {
		src = blankDeepLines(src, maxNesting)
		sub.src = src
		sub.addAt("input.too-deep", 1, 1, "", "the code is nested too deeply to analyse in full; the rest is judged, and the whole needs approval")
	}
	var ok bool
	switch lang {
	case Python:
		ok = judgePython(ctx, sub, src, 0)
	case Shell:
		ok = judgeShell(ctx, sub, src, 0)
	case Go:
		ok = judgeGo(ctx, sub, src, 0)
	}
	sub.summarize()
	for _, f := range sub.findings {
		f.Line += p.line - 1
		if f.Excerpt == "" {
			f.Excerpt = r.excerpt(f.Line)
		}
		r.findings = append(r.findings, f)
	}
	return ok
}

// normalizeLang accepts the usual spellings of each language.
func normalizeLang(l Lang) Lang {
	switch l {
	case "python", "py", "python3":
		return Python
	case "sh", "bash", "shell":
		return Shell
	case "go", "golang":
		return Go
	}
	return l
}

// ParseLang reads a --lang value; it reports false for an unknown name.
func ParseLang(s string) (Lang, bool) {
	l := normalizeLang(Lang(s))
	return l, l == Python || l == Shell || l == Go
}

// maxNesting bounds bracket nesting; real programs stay far below it, and
// the parsers and the analysis recurse once per level.
const maxNesting = 500

// bracketDepth returns the deepest nesting of (, [ and { in src, strings
// and comments included: a cheap bound taken before any parser runs.
func bracketDepth(src []byte) int {
	depth, deepest := 0, 0
	for _, b := range src {
		switch b {
		case '(', '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}

// blankDeepLines replaces with spaces every line on which the bracket depth
// goes past limit, keeping the line breaks so that positions still match.
func blankDeepLines(src []byte, limit int) []byte {
	out := bytes.Clone(src)
	depth, lineStart, deep := 0, 0, false
	for i, b := range src {
		switch b {
		case '(', '[', '{':
			depth++
			deep = deep || depth > limit
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		case '\n':
			if deep {
				for j := lineStart; j < i; j++ {
					out[j] = ' '
				}
			}
			lineStart, deep = i+1, depth > limit
		}
	}
	if deep {
		for j := lineStart; j < len(out); j++ {
			out[j] = ' '
		}
	}
	return out
}
