// Package risk judges code by its syntax tree before Mai runs it: Python
// through tree-sitter, shell through mvdan.cc/sh and Go through go/ast. The
// verdict is LOW, MEDIUM, HIGH or BLOCKED, as defined in the risk-levels note;
// it is the highest level of any finding, and every finding names its rule,
// line, column, the source excerpt and a one-sentence reason.
package risk

import (
	"context"
	"time"
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

// Analyzer holds the settings of an analysis; the zero value uses the
// built-in rules and the default size cap.
type Analyzer struct {
	// Policy adjusts rule levels; nil means the built-in levels.
	Policy *Policy
	// MaxBytes caps the input size; 0 means DefaultMaxBytes.
	MaxBytes int
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

func (a Analyzer) analyze(ctx context.Context, lang Lang, name string, src []byte) Verdict {
	limit := a.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(src) > limit {
		r := newReport(nil)
		r.addAt("input.too-large", 1, 1, "", "the code is larger than the analysis limit, so it is too large to analyse")
		return Verdict{Lang: lang, Findings: r.findings}
	}
	if d := bracketDepth(src); d > maxNesting {
		r := newReport(src)
		r.addAt("input.too-large", 1, 1, "", "the code is nested too deeply to analyse")
		return Verdict{Lang: normalizeLang(lang), Findings: r.findings}
	}
	lang = normalizeLang(lang)
	if lang == "" {
		lang = Detect(ctx, name, src)
	}
	var (
		r      *report
		parsed bool
	)
	switch lang {
	case Python:
		r, parsed = analyzePython(ctx, src)
	case Shell:
		r, parsed = analyzeShell(ctx, src)
	case Go:
		r, parsed = analyzeGo(ctx, src)
	default:
		r = newReport(src)
		r.addAt("parse.unknown-language", 1, 1, "", "the language could not be recognised as Python, shell or Go")
		return Verdict{Lang: lang, Findings: r.findings}
	}
	if ctx.Err() != nil {
		r.addAt("analysis.incomplete", 1, 1, "", "the analysis was cancelled before it finished")
	}
	return Verdict{Lang: lang, Findings: r.sorted(), Parsed: parsed}
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
