package risk

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
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

// benchShapes are the pathological input shapes, one unit per line so that
// time per 1000 lines compares with ordinary code.
var benchShapes = []struct {
	name       string
	lang       Lang
	head, unit string
	tail       string
}{
	{"sh-pipeline", Shell, "", "a |\n", "a\n"},
	{"sh-and-chain", Shell, "", "a &&\n", "a\n"},
	{"sh-statements", Shell, "", "a;\n", ""},
	{"sh-substitutions", Shell, "", "echo $(a)$(a)$(a)$(a)\n", ""},
	{"py-concatenation", Python, "x = ('a' +\n", "'a' +\n", "'a')\n"},
	{"py-list", Python, "x = [\n", "1,\n", "]\n"},
	{"go-concatenation", Go, "package p\n\nvar x = \"a\" +\n", "\"a\" +\n", "\"a\"\n"},
}

// benchShapeBytes is the size of each pathological input and of the
// ordinary code it is compared with.
const benchShapeBytes = 256 << 10

// ordinaryOfSize returns ordinary code of one language (the corpus's
// programs that parse) of about n bytes.
func ordinaryOfSize(b *testing.B, lang Lang, n int) []byte {
	ext := map[Lang]string{Python: ".py", Shell: ".sh", Go: ".go"}[lang]
	var out []byte
	for len(out) < n {
		src, _ := benchSource(b, lang, ext)
		if lang == Go && len(out) > 0 {
			src = src[bytes.Index(src, []byte(")\n"))+2:] // one package clause and import block
		}
		out = append(out, src...)
	}
	return out
}

// BenchmarkRiskShapes times each pathological shape per 1000 lines next to
// ordinary code of the same language and size, measured in the same run
// (goal: within 3×, per line and per byte), its ratio to parsing the shape
// alone, and the peak resident memory one analysis adds per MiB of input.
func BenchmarkRiskShapes(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			n := (benchShapeBytes - len(s.head) - len(s.tail)) / len(s.unit)
			shape := []byte(s.head + strings.Repeat(s.unit, n) + s.tail)
			ordinary := ordinaryOfSize(b, s.lang, len(shape))
			ctx := context.Background()
			var tShape, tOrd, tParse time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				Analyze(ctx, s.lang, shape)
				tShape += time.Since(start)
				start = time.Now()
				Analyze(ctx, s.lang, ordinary)
				tOrd += time.Since(start)
				start = time.Now()
				parseOnly(s.lang, shape)
				tParse += time.Since(start)
			}
			b.StopTimer()
			perK := func(d time.Duration, src []byte) float64 {
				return float64(d.Nanoseconds()) / float64(b.N) / 1e6 * 1000 / float64(bytes.Count(src, []byte("\n")))
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(perK(tShape, shape), "shape-ms/kline")
			b.ReportMetric(perK(tOrd, ordinary), "ordinary-ms/kline")
			b.ReportMetric(perK(tShape, shape)/perK(tOrd, ordinary), "x-ordinary-per-line")
			b.ReportMetric((float64(tShape)/float64(len(shape)))/(float64(tOrd)/float64(len(ordinary))), "x-ordinary-per-byte")
			b.ReportMetric(float64(tShape)/float64(tParse), "x-parse")
			if peak, ok := peakRSS(func() { Analyze(ctx, s.lang, shape) }); ok {
				b.ReportMetric(peak/(float64(len(shape))/(1<<20)), "peak-MiB/MiB")
			}
		})
	}
}

// peakRSS runs f and returns how far the process's peak resident memory
// rose above its resident memory before, in MiB (tree-sitter's memory is
// outside the Go heap, so the heap alone would miss it). It needs Linux's
// clear_refs to reset the peak; ok is false without it.
func peakRSS(f func()) (float64, bool) {
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, false
	}
	before, ok := procStatusKB("VmRSS")
	f()
	peak, ok2 := procStatusKB("VmHWM")
	if !ok || !ok2 {
		return 0, false
	}
	return float64(max(0, peak-before)) / 1024, true
}

func procStatusKB(field string) (int64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// BenchmarkRiskFailClosed counts the benign programs of the corpus (those
// labelled LOW or MEDIUM) at each verdict, with failing closed and without
// it (the same analysis with its "not modelled" findings left out), so the
// cost of failing closed in precision is visible.
func BenchmarkRiskFailClosed(b *testing.B) {
	var before, after [4]int
	for i := 0; i < b.N; i++ {
		before, after = [4]int{}, [4]int{}
		for _, s := range loadCorpus(b) {
			if s.want > Medium {
				continue
			}
			v := Analyzer{}.Analyze(context.Background(), "", s.name, s.src)
			after[v.Level]++
			open := Low
			for _, f := range v.Findings {
				if f.Rule != "model.unknown" {
					open = max(open, f.Level)
				}
			}
			before[open]++
		}
	}
	b.ReportMetric(0, "ns/op")
	for l := Low; l <= Blocked; l++ {
		name := strings.ToLower(l.String())
		b.ReportMetric(float64(before[l]), "benign-"+name+"-open")
		b.ReportMetric(float64(after[l]), "benign-"+name+"-closed")
	}
}
