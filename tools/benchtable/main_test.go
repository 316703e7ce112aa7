package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// sample is go test -v -bench output: a paired benchmark run 3 times, an
// unpaired one with its own ratio metric, a benchmark that skipped for a
// missing component, one the manifest does not know, and a package that
// failed to build.
const sample = `goos: linux
goarch: amd64
pkg: github.com/maicompanion/mai/internal/llm/ollama
cpu: Some CPU @ 3.0GHz
BenchmarkStreamDecode
BenchmarkStreamDecode-2   	 100	  50000 ns/op	 50000 mai-ns/op	 60000 mai-p95-ns/op	 800 mai-B/op	 14 mai-allocs/op	 100000 json-ns/op	 2000 json-B/op	 30 json-allocs/op
BenchmarkStreamDecode-2   	 100	  40000 ns/op	 40000 mai-ns/op	 60000 mai-p95-ns/op	 800 mai-B/op	 14 mai-allocs/op	 100000 json-ns/op	 2000 json-B/op	 30 json-allocs/op
BenchmarkStreamDecode-2   	 100	  60000 ns/op	 60000 mai-ns/op	 60000 mai-p95-ns/op	 800 mai-B/op	 14 mai-allocs/op	 50000 json-ns/op	 2000 json-B/op	 30 json-allocs/op
BenchmarkNewThing-2   	 10	  7 ns/op	 3.5 widgets/s
BenchmarkFlaky-2   	 10	  7 ns/op	 52300000 x-p95-ns/op	 0.0123456 ratio
    bench_test.go:122: sql: database is closed
--- FAIL: BenchmarkFlaky
--- FAIL: BenchmarkFlaky-2
PASS
ok  	github.com/maicompanion/mai/internal/llm/ollama	3.2s
pkg: github.com/maicompanion/mai/internal/risk
BenchmarkAnalyze
BenchmarkAnalyze/python
BenchmarkAnalyze/python-2	  500	   2100000 ns/op	  4.2 ms/kline	  1.8 x-parse
BenchmarkAnalyze/python-2	  500	   2100000 ns/op	  6.2 ms/kline	  2.0 x-parse
PASS
ok  	github.com/maicompanion/mai/internal/risk	3.2s
pkg: github.com/maicompanion/mai/internal/sandbox
BenchmarkHelloVsDockerRun
BenchmarkHelloVsDockerRun/cold
    helpers_test.go:41: SKIP: dockerd is not available (no socket); run .ci/docker.sh
--- SKIP: BenchmarkHelloVsDockerRun/cold
PASS
ok  	github.com/maicompanion/mai/internal/sandbox	0.1s
# github.com/maicompanion/mai/cmd/mai
cmd/mai/x.go:1:1: syntax error
FAIL	github.com/maicompanion/mai/cmd/mai [build failed]
`

var testManifest = []expect{
	{Pkg: "internal/llm/ollama", Name: "StreamDecode", Sides: "mai json", Baseline: "encoding/json", Goal: "ratio <= 1"},
	{Pkg: "internal/risk", Name: "Analyze/python", Baseline: "parse alone", Ratio: "x-parse", Goal: "ms/kline < 5"},
	{Pkg: "internal/sandbox", Name: "HelloVsDockerRun/cold", Sides: "mai moby cli", Baseline: "moby", Goal: "ratio <= 1.2", Needs: "dockerd"},
	{Pkg: "internal/sandbox", Name: "HelloVsDockerRun/pool", Sides: "mai moby cli", Baseline: "moby", Goal: "ratio <= 1", Needs: "dockerd"},
	{Pkg: "cmd/mai", Name: "ServeReady", Sides: "mai floor", Baseline: "mai version", Goal: "mai-ms < 300"},
	{Pkg: "internal/memory", Name: "Compress", Baseline: "none", Goal: "MB/s >= 1"},
}

func TestTable(t *testing.T) {
	var echo bytes.Buffer
	res, err := parse(strings.NewReader(sample), &echo)
	if err != nil || echo.String() != sample {
		t.Fatalf("err=%v, echo differs: %v", err, echo.String() != sample)
	}
	rows := build(testManifest, res)
	if len(rows) != 8 {
		t.Fatalf("%d rows, want the 6 expected and the two the manifest lacks", len(rows))
	}
	dec := rows[0]
	// Per-run ratios 0.5, 0.4, 1.2: median 0.5, spread 0.4–1.2; the sides'
	// medians, not the sum of both, in their own columns.
	if got := dec.ratioCell(); got != "0.50× (0.40–1.20)" {
		t.Errorf("ratio cell = %q", got)
	}
	if c := dec.sideCells(0); c != [4]string{"mai", "50.0µs", "800", "14"} {
		t.Errorf("mai cells = %q", c)
	}
	if c := dec.sideCells(1); c != [4]string{"json", "100.0µs", "2000", "30"} {
		t.Errorf("baseline cells = %q", c)
	}
	if dec.goal != "yes" {
		t.Errorf("goal = %q, want yes", dec.goal)
	}
	if risk := rows[1]; risk.goal != "NO" || risk.ratioCell() != "1.90× (1.80–2.00)" {
		t.Errorf("risk row: goal %q (median 5.2 ms/kline misses < 5), ratio %q", risk.goal, risk.ratioCell())
	}
	if why := rows[2].notRun; !strings.Contains(why, "dockerd is not available (no socket)") {
		t.Errorf("skipped row: %q", why)
	}
	if why := rows[3].notRun; !strings.Contains(why, "printed no result") {
		t.Errorf("row absent from a package that ran: %q", why)
	}
	if why := rows[4].notRun; !strings.Contains(why, "build failed") {
		t.Errorf("row of a package that failed: %q", why)
	}
	if why := rows[5].notRun; !strings.Contains(why, "did not run") {
		t.Errorf("row of a package never seen: %q", why)
	}
	if r := rows[6]; r.known || r.exp.Name != "NewThing" || r.exp.Pkg != "internal/llm/ollama" {
		t.Errorf("unlisted row = %+v", r.exp)
	}

	var out bytes.Buffer
	render(&out, res.machine(), rows)
	for _, want := range []string{
		"machine: Some CPU @ 3.0GHz, ", "GOMAXPROCS 2",
		"internal/llm/ollama StreamDecode — baseline: encoding/json; goal: ratio <= 1 (met: yes)",
		"HelloVsDockerRun/cold — not run: SKIP: dockerd is not available",
		"3.5 widgets/s", "NewThing — not in the manifest",
		"52.3ms x-p95", "0.0123 ratio",
		"Flaky — FAILED after 1 good runs: failed: sql: database is closed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var msg bytes.Buffer
	if verdict(&msg, res, rows, false) != 1 || !strings.Contains(msg.String(), "packages failed") || !strings.Contains(msg.String(), "BenchmarkFlaky") && !strings.Contains(msg.String(), "Flaky") {
		t.Errorf("a failed package and a failed benchmark must fail the run: %q", msg.String())
	}
	res.failedPkgs = nil
	if verdict(&msg, res, rows, false) != 1 {
		t.Error("a benchmark that failed in one run (go test said ok) must fail the run")
	}
	res.failed = nil
	if verdict(&msg, res, rows, false) != 0 {
		t.Error("missing rows fail the run without MAI_TEST_REQUIRE_ALL")
	}
	msg.Reset()
	if verdict(&msg, res, rows, true) != 1 || !strings.Contains(msg.String(), "4 expected rows did not run") {
		t.Errorf("MAI_TEST_REQUIRE_ALL=1 with missing rows: %q", msg.String())
	}
}

// TestManifest checks every row can be judged: unique names, a baseline,
// a goal that parses, and a ratio for each paired row.
func TestManifest(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range manifest {
		k := e.Pkg + " " + e.Name
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
		if e.Baseline == "" || e.Goal == "" {
			t.Errorf("%s: every row states its baseline and goal", k)
		}
		if _, err := parseGoal(e.Goal); err != nil {
			t.Errorf("%s: %v", k, err)
		}
		if n := len(strings.Fields(e.Sides)); n == 1 {
			t.Errorf("%s: a paired row names Mai's side and at least one baseline", k)
		}
		if strings.HasPrefix(e.Name, "Benchmark") || strings.Contains(e.Pkg, ".") {
			t.Errorf("%s: name it as the table does (package below the module, no Benchmark prefix)", k)
		}
	}
}

// soakOut is a `make soak` run: the soak's row with hand-written figures,
// 12 % RSS growth, which misses its goal.
const soakOut = `goos: linux
pkg: github.com/maicompanion/mai/cmd/mai
cpu: Some CPU @ 3.0GHz
BenchmarkSoak-2   	 1	  900000000000 ns/op	 0 lost	 0 duplicated	 0 429s	 12 rss-growth-%	 800 reply-p50-ms	 2100 reply-max-ms
PASS
ok  	github.com/maicompanion/mai/cmd/mai	900.1s
`

// TestOptionalRowAndMarkdown checks that a row another target runs (the
// soak) is neither printed nor required when absent, and judged when
// present, and that the Markdown table carries the date, the machine and
// each row's verdict.
func TestOptionalRowAndMarkdown(t *testing.T) {
	man := []expect{
		{Pkg: "internal/risk", Name: "Analyze/python", Baseline: "parse alone", Ratio: "x-parse", Goal: "ms/kline < 5"},
		{Pkg: "cmd/mai", Name: "Soak", Optional: "make soak", Strict: true, Baseline: "none: its own start", Goal: "lost <= 0, duplicated <= 0, 429s <= 0, rss-growth-% < 10"},
	}
	res, err := parse(strings.NewReader(sample), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	rows := build(man, res)
	for _, r := range rows {
		if r.exp.Name == "Soak" {
			t.Fatalf("absent soak row printed: %+v", r)
		}
	}
	res.failed, res.failedPkgs = nil, nil
	if verdict(&bytes.Buffer{}, res, rows, true) != 0 {
		t.Error("MAI_TEST_REQUIRE_ALL=1 must not require the soak in make bench")
	}

	res, err = parse(strings.NewReader(soakOut), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	rows = build(man, res)
	if len(rows) != 2 || rows[1].exp.Name != "Soak" || rows[1].goal != "NO" {
		t.Fatalf("soak row: %+v", rows)
	}
	var md bytes.Buffer
	renderMarkdown(&md, res.machine(), time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), rows)
	for _, want := range []string{
		"Measured 2026-12-05 on Some CPU @ 3.0GHz",
		"| 1 | internal/risk Analyze/python | not run |",
		"| 2 | cmd/mai Soak |", "rss-growth-% < 10 | NO |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	// The soak's goals are counts: missing one fails the run (make soak in
	// CI), with or without MAI_TEST_REQUIRE_ALL; meeting them does not.
	var why bytes.Buffer
	if verdict(&why, res, rows, false) != 1 || !strings.Contains(why.String(), "cmd/mai Soak missed its goal") {
		t.Errorf("a strict row that missed its goal must fail the run; said %q", why.String())
	}
	met, err := parse(strings.NewReader(strings.Replace(soakOut, "12 rss-growth-%", "3 rss-growth-%", 1)), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if rows := build(man, met); rows[1].goal != "yes" || verdict(&bytes.Buffer{}, met, rows, false) != 0 {
		t.Errorf("a soak that met its goals must pass: %+v", rows[1])
	}
}

// make soak keeps only the soak's row, so that the rows make bench runs
// are not counted missing; a pattern that matches nothing is an error.
func TestSelectRows(t *testing.T) {
	rows, err := selectRows(manifest, "^cmd/mai Soak$")
	if err != nil || len(rows) != 1 || rows[0].Name != "Soak" || !rows[0].Strict {
		t.Fatalf("rows %+v, %v; want the soak's strict row alone", rows, err)
	}
	if all, err := selectRows(manifest, ""); err != nil || len(all) != len(manifest) {
		t.Errorf("no pattern keeps every row: %d of %d, %v", len(all), len(manifest), err)
	}
	for _, bad := range []string{"^cmd/mai Nothing$", "("} {
		if _, err := selectRows(manifest, bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
