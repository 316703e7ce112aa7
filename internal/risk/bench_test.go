package risk

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
	"mvdan.cc/sh/v3/syntax"
)

// benchSource concatenates the corpus programs of one language that parse
// until it has at least 1000 lines: realistic code, not a repeated line.
func benchSource(b *testing.B, lang Lang, ext string) ([]byte, int) {
	b.Helper()
	var buf bytes.Buffer
	for buf.Len() == 0 || bytes.Count(buf.Bytes(), []byte("\n")) < 1000 {
		for _, s := range loadCorpus(b, ext) {
			if lang == Go {
				continue // Go files cannot be concatenated; see goBenchSource
			}
			if v := Analyze(context.Background(), lang, s.src); !v.Parsed {
				continue
			}
			buf.Write(s.src)
			buf.WriteString("\n")
		}
		if lang == Go {
			return goBenchSource(b), 0
		}
	}
	return buf.Bytes(), bytes.Count(buf.Bytes(), []byte("\n"))
}

// goBenchSource joins the bodies of the Go samples into one file, renaming
// their main functions so the result still parses.
func goBenchSource(b *testing.B) []byte {
	imports := map[string]bool{}
	var body strings.Builder
	n := 0
	for bytes.Count([]byte(body.String()), []byte("\n")) < 1000 {
		for _, s := range loadCorpus(b, ".go") {
			f, err := parser.ParseFile(token.NewFileSet(), "", s.src, parser.SkipObjectResolution)
			if err != nil || len(f.Imports) == 0 {
				continue
			}
			for _, is := range f.Imports {
				if is.Path.Value != `"C"` {
					imports[is.Path.Value] = true
				}
			}
			src := string(s.src[f.Decls[0].Pos()-1:])
			if gd, ok := f.Decls[0].(interface{ End() token.Pos }); ok {
				src = string(s.src[gd.End()-1:])
			}
			n++
			body.WriteString(strings.NewReplacer("func main(", "func main"+itoa64(int64(n))+"(").Replace(src))
			body.WriteString("\n")
		}
	}
	var out strings.Builder
	out.WriteString("package main\n\nimport (\n")
	for p := range imports {
		out.WriteString("\t_ " + p + "\n")
	}
	out.WriteString(")\n")
	out.WriteString(body.String())
	return []byte(out.String())
}

func parseOnly(lang Lang, src []byte) {
	switch lang {
	case Python:
		p := sitter.NewParser()
		_ = p.SetLanguage(sitter.NewLanguage(python.Language()))
		p.Parse(src, nil).Close()
		p.Close()
	case Shell:
		_, _ = syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(src), "")
	case Go:
		_, _ = parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	}
}

// BenchmarkAnalyze reports analysis time per 1000 lines of each language
// and its ratio to parsing alone (x-parse), measured in the same run.
func BenchmarkAnalyze(b *testing.B) {
	for _, c := range []struct {
		lang Lang
		ext  string
	}{{Python, ".py"}, {Shell, ".sh"}, {Go, ".go"}} {
		b.Run(string(c.lang), func(b *testing.B) {
			src, _ := benchSource(b, c.lang, c.ext)
			lines := bytes.Count(src, []byte("\n"))
			if v := Analyze(context.Background(), c.lang, src); !v.Parsed {
				b.Fatalf("benchmark source does not parse: %+v", v.Findings[:min(3, len(v.Findings))])
			}
			ctx := context.Background()
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				Analyze(ctx, c.lang, src)
			}
			analyse := time.Since(start)
			b.StopTimer()
			start = time.Now()
			for i := 0; i < b.N; i++ {
				parseOnly(c.lang, src)
			}
			parse := time.Since(start)
			perK := func(d time.Duration) float64 {
				return float64(d.Nanoseconds()) / float64(b.N) / 1e6 * 1000 / float64(lines)
			}
			b.ReportMetric(perK(analyse), "ms/kline")
			b.ReportMetric(perK(parse), "parse-ms/kline")
			b.ReportMetric(float64(analyse)/float64(parse), "x-parse")
		})
	}
}
