package risk

import (
	"context"
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
