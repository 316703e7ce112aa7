// Command benchtable reads `go test -v -bench` output on stdin, passes it
// through to stderr as it arrives, and prints one table at the end: every
// row of the manifest (manifest.go) — with its figures, or "not run" and
// why — and every other benchmark it saw, on which machine.
//
// # Reporting contract
//
// A benchmark reports what it measured with b.ReportMetric, under any unit.
// Every result line benchtable reads becomes a row with all its metrics, so
// a new benchmark shows up without any change here; a line in the manifest
// adds what a reader needs to judge it:
//
//   - Pkg and Name name the row: the package path below the module
//     ("internal/memory") and the benchmark as go test prints it, without
//     "Benchmark" and the -GOMAXPROCS suffix ("Recall/messages=10000").
//   - Baseline says in words what Mai is compared with (or "none: …" for a
//     plain figure), and Needs the component without which it cannot run.
//   - Goal is one or more conditions "METRIC OP NUMBER" joined by ", ", OP
//     one of < <= > >=; METRIC is a reported unit, "ratio" (the row's ratio,
//     below), or "<side>-ms" (a side's ns/op in milliseconds). Each row says
//     whether its goal is met by the median of its runs.
//
// A row gets its ratio in one of two ways:
//
//   - Sides: a paired benchmark measures Mai and its baseline(s) in the same
//     run and reports each side's figures as "<side>-ns/op", "<side>-B/op"
//     and "<side>-allocs/op" (internal/benchpair does this); Sides lists the
//     side names, Mai's first, the baseline second, further labelled
//     baselines after. The ratio is Mai's figure over the baseline's in Unit
//     ("ns/op" unless set, e.g. "MB" for "<side>-MB"), computed per run.
//   - Ratio names a metric the benchmark computes itself ("x-parse",
//     "recall/fts"): the convention of the older benchmarks, still valid.
//
// With -count N each row is read N times; the table shows the medians, and
// the ratio's median with its spread (lowest–highest) over the runs.
// `make bench` runs every benchmark 5 times.
//
// A manifest row with no result is printed as "not run" with the reason the
// benchmark gave when it skipped or failed (go test prints it with -v), or
// what stopped its package. A benchmark that failed in any run, or a failed
// package, makes benchtable exit with status 1; under MAI_TEST_REQUIRE_ALL=1
// so does a row that did not run, and always a Strict row whose goal is
// missed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// expect is one row the manifest requires.
type expect struct {
	Pkg, Name string
	Sides     string // "mai base [more…]" for paired benchmarks
	Unit      string // what the sides' ratio compares; default "ns/op"
	Ratio     string // the metric that is the ratio, for unpaired rows
	Baseline  string
	Goal      string
	Needs     string
	// Optional names the target that runs the row when `make bench` does
	// not (the soak runs in `make soak`): the row is printed when its
	// benchmark ran and left out, not counted missing, when it did not.
	Optional string
	// Strict rows have goals that are counts, not timings (the soak's lost
	// and duplicated replies): a missed goal fails the run, where a missed
	// timing goal on a noisy machine is only reported.
	Strict bool
}

func main() {
	md := flag.String("md", "", "also write the table as Markdown to this file (for the README's Results)")
	only := flag.String("only", "", "keep only the manifest rows whose \"package name\" matches this regular expression (make soak: the soak's row)")
	flag.Parse()
	man, err := selectRows(manifest, *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable: -only:", err)
		os.Exit(2)
	}
	res, err := parse(os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	rows := build(man, res)
	render(os.Stdout, res.machine(), rows)
	if *md != "" {
		var buf bytes.Buffer
		renderMarkdown(&buf, res.machine(), time.Now().UTC(), rows)
		if err := os.WriteFile(*md, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable: writing the Markdown table:", err)
			os.Exit(1)
		}
	}
	os.Exit(verdict(os.Stderr, res, rows, os.Getenv("MAI_TEST_REQUIRE_ALL") == "1"))
}

// selectRows returns the rows of man whose "package name" matches the
// regular expression only; all of them when only is "".
func selectRows(man []expect, only string) ([]expect, error) {
	if only == "" {
		return man, nil
	}
	re, err := regexp.Compile(only)
	if err != nil {
		return nil, err
	}
	var kept []expect
	for _, e := range man {
		if re.MatchString(e.Pkg + " " + e.Name) {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%q matches no row of the manifest", only)
	}
	return kept, nil
}

// verdict says why the run failed, if it did, and returns the exit status.
func verdict(w io.Writer, res *results, rows []row, requireAll bool) int {
	status := 0
	if len(res.failedPkgs) > 0 {
		fmt.Fprintln(w, "benchtable: some benchmark packages failed (see above)")
		status = 1
	}
	if len(res.failed) > 0 {
		var names []string
		for k := range res.failed {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "benchtable: benchmarks failed: %s\n", strings.Join(names, ", "))
		status = 1
	}
	missing := 0
	for _, r := range rows {
		if r.notRun != "" {
			missing++
		}
		if r.exp.Strict && r.goal != "yes" && r.notRun == "" {
			fmt.Fprintf(w, "benchtable: %s %s missed its goal (%s): %s\n", r.exp.Pkg, r.exp.Name, r.exp.Goal, r.goal)
			status = 1
		}
	}
	if missing > 0 && requireAll {
		fmt.Fprintf(w, "benchtable: %d expected rows did not run, and MAI_TEST_REQUIRE_ALL=1 requires all\n", missing)
		status = 1
	}
	return status
}
