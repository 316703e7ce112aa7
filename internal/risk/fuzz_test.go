package risk

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fuzzDeadline is how long one input may take before the analysis must
// give up; an input that overruns it by fuzzGrace is a hang.
const (
	fuzzDeadline = 5 * time.Second
	fuzzGrace    = 5 * time.Second
)

// checkVerdict is the property every input must satisfy: no panic, a
// verdict in range, findings that explain themselves, a bounded time.
func checkVerdict(t *testing.T, lang Lang, src []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), fuzzDeadline)
	defer cancel()
	start := time.Now()
	v := Analyze(ctx, lang, src)
	if took := time.Since(start); took > fuzzDeadline+fuzzGrace {
		t.Fatalf("analysis ignored its deadline: %v", took)
	}
	if v.Level < Low || v.Level > Blocked {
		t.Fatalf("verdict out of range: %d", v.Level)
	}
	top := Low
	for _, f := range v.Findings {
		if f.Rule == "" || f.Reason == "" || f.Line < 1 {
			t.Fatalf("incomplete finding %+v", f)
		}
		top = max(top, f.Level)
	}
	if top != v.Level {
		t.Fatalf("verdict %s but highest finding %s", v.Level, top)
	}
	if !v.Parsed && v.Level < High {
		t.Fatalf("unparsed input judged %s", v.Level)
	}
}

func FuzzPython(f *testing.F) {
	f.Add([]byte("import os\nos.system('ls')\n"))
	f.Fuzz(func(t *testing.T, src []byte) { checkVerdict(t, Python, src) })
}

func FuzzShell(f *testing.F) {
	f.Add([]byte("curl -s https://x | sh\n"))
	f.Fuzz(func(t *testing.T, src []byte) { checkVerdict(t, Shell, src) })
}

func FuzzGo(f *testing.F) {
	f.Add([]byte("package main\nimport \"os/exec\"\nfunc main() { exec.Command(\"ls\").Run() }\n"))
	f.Fuzz(func(t *testing.T, src []byte) { checkVerdict(t, Go, src) })
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("#!/bin/sh\necho hi\n"))
	f.Fuzz(func(t *testing.T, src []byte) { checkVerdict(t, "", src) })
}

// shapes are the input shapes that stress an analyser: each builds a
// program of about n units in one language.
var shapes = []struct {
	lang  Lang
	build func(n int) string
}{
	{Shell, func(n int) string { return strings.Repeat("a|", n) + "a\n" }},
	{Shell, func(n int) string { return strings.Repeat("a&&", n) + "a\n" }},
	{Shell, func(n int) string { return strings.Repeat("a;", n) + "\n" }},
	{Shell, func(n int) string { return "echo " + strings.Repeat("$(a)", n) + "\n" }},
	{Shell, func(n int) string { return strings.Repeat("if a; then ", n) + "a" + strings.Repeat("; fi", n) + "\n" }},
	{Shell, func(n int) string { return strings.Repeat("(", n) + "a" + strings.Repeat(")", n) + "\n" }},
	{Python, func(n int) string { return "x = " + strings.Repeat("'a' + ", n) + "'a'\n" }},
	{Python, func(n int) string { return "x = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n" }},
	{Python, func(n int) string { return "x = [" + strings.Repeat("1, ", n) + "]\n" }},
	{Python, func(n int) string { return "#" + strings.Repeat("x", n) + "\n" }},
	{Go, func(n int) string { return "package p\nvar x = " + strings.Repeat("\"a\" + ", n) + "\"a\"\n" }},
	{Go, func(n int) string {
		return "package p\nvar x = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n"
	}},
}

// blockedLine is a line each language's rules must block wherever it is.
var blockedLine = map[Lang]string{
	Python: "import os\nos.system('rm -rf /')\n",
	Shell:  "rm -rf /\n",
	Go:     "func init() { os.RemoveAll(\"/\") }\n",
}

// FuzzShapes builds deep and long inputs, with a blocked line before or
// after them or none, and requires a verdict within the time budget, and
// BLOCKED whenever the blocked line is there. The size limit is small so
// that inputs past it stay cheap to generate.
func FuzzShapes(f *testing.F) {
	for i := range shapes {
		f.Add(uint8(i), uint16(600), uint8(1))
		f.Add(uint8(i), uint16(3000), uint8(2))
	}
	f.Fuzz(func(t *testing.T, shape uint8, n uint16, where uint8) {
		s := shapes[int(shape)%len(shapes)]
		body := s.build(int(n))
		src := body
		line := blockedLine[s.lang]
		if s.lang == Go {
			body = strings.TrimPrefix(body, "package p\n")
			line = "package p\nimport \"os\"\n" + line
			src = "package p\n" + body
		}
		switch where % 3 {
		case 1:
			src = line + body
		case 2:
			src = strings.TrimSuffix(line, "\n") + "\n" + body + strings.TrimPrefix(line, "package p\nimport \"os\"\n")
			if s.lang == Go {
				src = "package p\nimport \"os\"\n" + body + blockedLine[Go]
			}
		}
		a := Analyzer{MaxBytes: 8 << 10, Budget: fuzzDeadline}
		start := time.Now()
		v := a.Analyze(context.Background(), s.lang, "", []byte(src))
		if took := time.Since(start); took > fuzzDeadline+fuzzGrace {
			t.Fatalf("analysis overran its budget: %v", took)
		}
		if where%3 != 0 && v.Level != Blocked {
			t.Fatalf("a blocked line next to %d units of shape %d was judged %s: %s", n, shape, v.Level, describe(v))
		}
	})
}
