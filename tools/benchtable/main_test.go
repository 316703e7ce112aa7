package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/maicompanion/mai/internal/memory
cpu: Some CPU
BenchmarkRecall/n=10000-2         	    1000	     52000 ns/op	   1.21 x-bare-fts5	 812 B/op	      14 allocs/op
BenchmarkInsertBatch-2   	      10	 180000000 ns/op	   61234 msgs/s
PASS
ok  	github.com/maicompanion/mai/internal/memory	3.2s
pkg: github.com/maicompanion/mai/internal/risk
BenchmarkPython1000Lines-2	  500	   2100000 ns/op	  1.8 x-parse-only
FAIL	github.com/maicompanion/mai/internal/sandbox [build failed]
`

func TestParseAndRender(t *testing.T) {
	var echo bytes.Buffer
	rows, failed, err := parse(strings.NewReader(sample), &echo)
	if err != nil || !failed || len(rows) != 3 || echo.String() != sample {
		t.Fatalf("rows=%d failed=%v err=%v", len(rows), failed, err)
	}
	if rows[0].name != "Recall/n=10000" || rows[0].metrics["x-bare-fts5"] != "1.21" || rows[2].pkg != "github.com/maicompanion/mai/internal/risk" {
		t.Errorf("%+v", rows)
	}
	var out bytes.Buffer
	render(&out, rows)
	for _, want := range []string{"memory", "Recall/n=10000", "52000", "1.21 x-bare-fts5", "61234 msgs/s", "1.8 x-parse-only"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
