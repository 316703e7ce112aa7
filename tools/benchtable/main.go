// Command benchtable reads `go test -bench` output on stdin, passes it
// through to stderr as it arrives, and prints one table at the end: each
// benchmark with its time per operation and every extra metric it reported
// (ratios against the obvious alternative, tokens/s, p50/p99, …).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// row is one benchmark result line.
type row struct {
	pkg, name string
	metrics   map[string]string
}

func main() {
	rows, failed, err := parse(os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	render(os.Stdout, rows)
	if failed {
		fmt.Fprintln(os.Stderr, "benchtable: some benchmark packages failed (see above)")
		os.Exit(1)
	}
}

func parse(r io.Reader, echo io.Writer) ([]row, bool, error) {
	var rows []row
	var pkg string
	failed := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(echo, line)
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "pkg:":
			pkg = f[1]
		case len(f) >= 1 && (f[0] == "FAIL" || strings.HasPrefix(line, "--- FAIL")):
			failed = true
		case len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark"):
			rw := row{pkg: pkg, name: trimProcs(strings.TrimPrefix(f[0], "Benchmark")), metrics: map[string]string{}}
			// After the name and iteration count come value/unit pairs.
			for i := 2; i+1 < len(f); i += 2 {
				rw.metrics[f[i+1]] = f[i]
			}
			rows = append(rows, rw)
		}
	}
	return rows, failed, sc.Err()
}

// trimProcs drops the -GOMAXPROCS suffix go test appends to names.
func trimProcs(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 && strings.Trim(name[i+1:], "0123456789") == "" {
		return name[:i]
	}
	return name
}

func render(w io.Writer, rows []row) {
	standard := map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true, "MB/s": true}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tBENCHMARK\tNS/OP\tB/OP\tALLOCS/OP\tOTHER METRICS")
	for _, r := range rows {
		var extra []string
		for unit, v := range r.metrics {
			if !standard[unit] {
				extra = append(extra, v+" "+unit)
			}
		}
		sort.Strings(extra)
		if v, ok := r.metrics["MB/s"]; ok {
			extra = append([]string{v + " MB/s"}, extra...)
		}
		pkg := r.pkg[strings.LastIndex(r.pkg, "/")+1:]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", pkg, r.name, dash(r.metrics["ns/op"]), dash(r.metrics["B/op"]), dash(r.metrics["allocs/op"]), strings.Join(extra, ", "))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
