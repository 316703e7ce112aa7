package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table: a manifest entry or a benchmark seen.
type row struct {
	exp    expect
	known  bool // in the manifest
	runs   []map[string]float64
	notRun string
	failed string // why a run failed, when one did

	median map[string]float64 // every metric's median over the runs
	ratio  []float64          // per run, when the row has a ratio
	// others are the further labelled baselines' median ratios.
	others []string
	goal   string // "yes", "NO", or why it cannot be judged
}

// build joins the manifest with the results: the manifest's rows first, in
// its order, then the benchmarks it does not list.
func build(man []expect, res *results) []row {
	var rows []row
	used := map[string]bool{}
	for _, e := range man {
		r := row{exp: e, known: true}
		k, ok := res.find(e.Pkg, e.Name)
		if ok {
			used[k] = true
			r.runs, r.failed = res.runs[k], res.failed[k]
		} else if e.Optional != "" {
			continue // run by its own target, e.g. make soak
		} else {
			r.notRun = res.whyNot(e)
		}
		rows = append(rows, r.compute())
	}
	for _, k := range res.order {
		if used[k] {
			continue
		}
		pkg, name, _ := strings.Cut(k, " ")
		r := row{exp: expect{Pkg: shortPkg(pkg), Name: name}, runs: res.runs[k], failed: res.failed[k]}
		rows = append(rows, r.compute())
	}
	return rows
}

// find matches a manifest package (a path below the module) to a full
// import path from the output.
func (res *results) find(pkg, name string) (string, bool) {
	for _, k := range res.order {
		p, n, _ := strings.Cut(k, " ")
		if n == name && (p == pkg || strings.HasSuffix(p, "/"+pkg)) {
			return k, true
		}
	}
	return "", false
}

func (res *results) whyNot(e expect) string {
	for k, why := range res.reasons {
		p, n, _ := strings.Cut(k, " ")
		if (p == e.Pkg || strings.HasSuffix(p, "/"+e.Pkg)) && (n == e.Name || strings.HasPrefix(e.Name, n+"/")) && why != "" {
			return why
		}
	}
	for p, why := range res.pkgs {
		if p == e.Pkg || strings.HasSuffix(p, "/"+e.Pkg) {
			if why != "" {
				return why
			}
			return "its package ran but printed no result for it (renamed, or filtered out by BENCH)"
		}
	}
	why := "its package did not run (filtered out by PKGS or BENCH, or the output was cut short)"
	if e.Needs != "" {
		why += "; it needs " + e.Needs
	}
	return why
}

func shortPkg(p string) string {
	for _, root := range []string{"/internal/", "/cmd/", "/tools/"} {
		if i := strings.Index(p, root); i >= 0 {
			return p[i+1:]
		}
	}
	return p
}

func (r row) sides() []string { return strings.Fields(r.exp.Sides) }

func (r row) unit() string {
	if r.exp.Unit != "" {
		return r.exp.Unit
	}
	return "ns/op"
}

func (r row) compute() row {
	if len(r.runs) == 0 {
		if r.notRun == "" {
			r.notRun = "no result"
		}
		return r
	}
	r.median = map[string]float64{}
	units := map[string]bool{}
	for _, m := range r.runs {
		for u := range m {
			units[u] = true
		}
	}
	for u := range units {
		var vs []float64
		for _, m := range r.runs {
			if v, ok := m[u]; ok {
				vs = append(vs, v)
			}
		}
		r.median[u] = median(vs)
	}
	for _, s := range r.sides() {
		if v, ok := r.median[s+"-ns/op"]; ok {
			r.median[s+"-ms"] = v / 1e6
		}
	}
	r.ratio = r.ratios(1)
	if s := r.sides(); len(s) > 2 {
		for i := 2; i < len(s); i++ {
			if rs := r.ratios(i); len(rs) > 0 {
				r.others = append(r.others, fmt.Sprintf("vs %s %.2f×", s[i], median(rs)))
			}
		}
	}
	r.goal = r.judge()
	return r
}

// ratios returns, per run, Mai's figure over that of side i, or the
// declared ratio metric's values.
func (r row) ratios(i int) []float64 {
	var out []float64
	s := r.sides()
	for _, m := range r.runs {
		switch {
		case len(s) > i:
			a, okA := m[s[0]+"-"+r.unit()]
			b, okB := m[s[i]+"-"+r.unit()]
			if okA && okB && b != 0 {
				out = append(out, a/b)
			}
		case r.exp.Ratio != "":
			if v, ok := m[r.exp.Ratio]; ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// condition is one part of a goal: METRIC OP NUMBER.
type condition struct {
	metric, op string
	value      float64
}

// parseGoal reads "METRIC OP NUMBER[, …]".
func parseGoal(goal string) ([]condition, error) {
	var out []condition
	for _, part := range strings.Split(goal, ",") {
		f := strings.Fields(part)
		if len(f) != 3 {
			return nil, fmt.Errorf("goal %q: want METRIC OP NUMBER", strings.TrimSpace(part))
		}
		switch f[1] {
		case "<", "<=", ">", ">=":
		default:
			return nil, fmt.Errorf("goal %q: the operator must be <, <=, > or >=", strings.TrimSpace(part))
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, fmt.Errorf("goal %q: %w", strings.TrimSpace(part), err)
		}
		out = append(out, condition{f[0], f[1], v})
	}
	return out, nil
}

func (c condition) holds(got float64) bool {
	switch c.op {
	case "<":
		return got < c.value
	case "<=":
		return got <= c.value
	case ">":
		return got > c.value
	}
	return got >= c.value
}

// judge checks the goal's conditions against the medians.
func (r row) judge() string {
	if r.exp.Goal == "" {
		return "no goal set"
	}
	conds, err := parseGoal(r.exp.Goal)
	if err != nil {
		return err.Error()
	}
	met := true
	for _, c := range conds {
		got, ok := r.median[c.metric]
		if c.metric == "ratio" {
			got, ok = median(r.ratio), len(r.ratio) > 0
		}
		if !ok {
			return c.metric + " not reported"
		}
		met = met && c.holds(got)
	}
	if met {
		return "yes"
	}
	return "NO"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// render prints the machine, the table, then each row's baseline and goal.
func render(w io.Writer, machine string, rows []row) {
	fmt.Fprintf(w, "\nmachine: %s\n\n", machine)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tPACKAGE\tBENCHMARK\tRUNS\tMAI ns/op\tB/op\tallocs/op\tBASELINE\tns/op\tB/op\tallocs/op\tRATIO (spread)\tGOAL MET\tOTHER METRICS")
	for i, r := range rows {
		if r.notRun != "" {
			fmt.Fprintf(tw, "%d\t%s\t%s\t0\tnot run\t\t\t\t\t\t\t\t-\t\n", i+1, r.exp.Pkg, r.exp.Name)
			continue
		}
		mai, base := r.sideCells(0), r.sideCells(1)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, r.exp.Pkg, r.exp.Name, len(r.runs),
			mai[1], mai[2], mai[3], base[0], base[1], base[2], base[3], r.ratioCell(), r.goal, strings.Join(append(r.others, r.extra()...), ", "))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for i, r := range rows {
		switch {
		case r.notRun != "":
			fmt.Fprintf(w, "%d. %s %s — not run: %s\n", i+1, r.exp.Pkg, r.exp.Name, r.notRun)
		case r.failed != "":
			fmt.Fprintf(w, "%d. %s %s — FAILED after %d good runs: %s\n", i+1, r.exp.Pkg, r.exp.Name, len(r.runs), r.failed)
		case !r.known:
			fmt.Fprintf(w, "%d. %s %s — not in the manifest: add it to tools/benchtable/manifest.go with its baseline and goal\n", i+1, r.exp.Pkg, r.exp.Name)
		default:
			fmt.Fprintf(w, "%d. %s %s — baseline: %s; goal: %s (met: %s)\n", i+1, r.exp.Pkg, r.exp.Name, r.exp.Baseline, dash(r.exp.Goal), r.goal)
		}
	}
}

// sideCells are the name, time, bytes and allocations of side i, or of
// the whole benchmark for an unpaired row's Mai column.
func (r row) sideCells(i int) [4]string {
	s := r.sides()
	if len(s) == 0 {
		if i > 0 {
			return [4]string{"-", "", "", ""}
		}
		return [4]string{"", fmtNs(r.median, "ns/op"), fmtNum(r.median, "B/op"), fmtNum(r.median, "allocs/op")}
	}
	if i >= len(s) {
		return [4]string{"-", "", "", ""}
	}
	p := s[i] + "-"
	if r.unit() != "ns/op" {
		return [4]string{s[i], fmtNum(r.median, p+r.unit()) + " " + r.unit(), "", ""}
	}
	return [4]string{s[i], fmtNs(r.median, p+"ns/op"), fmtNum(r.median, p+"B/op"), fmtNum(r.median, p+"allocs/op")}
}

func (r row) ratioCell() string {
	if len(r.ratio) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", median(r.ratio), slices.Min(r.ratio), slices.Max(r.ratio))
}

// extra lists the metrics no column shows.
func (r row) extra() []string {
	shown := map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true}
	for _, s := range r.sides() {
		for _, u := range []string{"ns/op", "B/op", "allocs/op", "ms", r.unit()} {
			shown[s+"-"+u] = true
		}
	}
	var out []string
	for u := range r.median {
		switch {
		case shown[u]:
		case strings.HasSuffix(u, "-ns/op"):
			out = append(out, fmtNs(r.median, u)+" "+strings.TrimSuffix(u, "-ns/op"))
		default:
			out = append(out, fmtNum(r.median, u)+" "+u)
		}
	}
	sort.Strings(out)
	return out
}

func fmtNs(m map[string]float64, unit string) string {
	v, ok := m[unit]
	if !ok {
		return "-"
	}
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fs", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.1fms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fµs", v/1e3)
	}
	return fmt.Sprintf("%.0fns", v)
}

func fmtNum(m map[string]float64, unit string) string {
	v, ok := m[unit]
	if !ok {
		return "-"
	}
	return number(v)
}

// number writes v with three significant digits, without an exponent
// below a billion.
func number(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0 || math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 1e9:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	digits := max(0, 2-int(math.Floor(math.Log10(a))))
	mag := math.Pow(10, float64(2-int(math.Floor(math.Log10(a)))))
	out := strconv.FormatFloat(math.Round(v*mag)/mag, 'f', digits, 64)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// renderMarkdown writes the table for the README: one line a row with the
// figures a reader needs to judge it — Mai's time, the baseline and the
// ratio, the goal and whether it was met — and the date and machine.
func renderMarkdown(w io.Writer, machine string, when time.Time, rows []row) {
	fmt.Fprintf(w, "Measured %s on %s.\n\n", when.Format("2006-01-02"), machine)
	fmt.Fprintln(w, "| # | Benchmark | Mai | Baseline | Ratio (spread) | Goal | Met | Other metrics |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	for i, r := range rows {
		name := r.exp.Pkg + " " + r.exp.Name
		if r.notRun != "" {
			fmt.Fprintf(w, "| %d | %s | not run | %s | - | %s | - | %s |\n", i+1, cell(name), cell(r.exp.Baseline), cell(dash(r.exp.Goal)), cell(r.notRun))
			continue
		}
		mai := r.sideCells(0)
		met := r.goal
		if r.failed != "" {
			met = "FAILED"
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", i+1, cell(name), cell(strings.TrimSpace(mai[1])), cell(dash(r.exp.Baseline)),
			cell(r.ratioCell()), cell(dash(r.exp.Goal)), cell(met), cell(strings.Join(append(r.others, r.extra()...), ", ")))
	}
}
