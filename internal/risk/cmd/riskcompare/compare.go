package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/maicompanion/mai/internal/risk"
)

// sample is one labelled Python file.
type sample struct {
	path string
	want risk.Level
	src  []byte
}

// loadPython reads <corpus>/<level>/*.py.
func loadPython(corpus string) ([]sample, error) {
	var out []sample
	for l := risk.Low; l <= risk.Blocked; l++ {
		files, err := filepath.Glob(filepath.Join(corpus, strings.ToLower(l.String()), "*.py"))
		if err != nil {
			return nil, fmt.Errorf("list corpus: %w", err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("read sample: %w", err)
			}
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, fmt.Errorf("read sample: %w", err)
			}
			out = append(out, sample{path: abs, want: l, src: src})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Python samples under %s", corpus)
	}
	return out, nil
}

// confusion counts verdicts as [want][got].
type confusion [4][4]int

// scores are the counts the goal is stated in.
type scores struct {
	exact, misses, falseAlarms, dangerousAsLow int
}

func (c *confusion) scores() scores {
	var s scores
	for w := risk.Low; w <= risk.Blocked; w++ {
		for g := risk.Low; g <= risk.Blocked; g++ {
			n := c[w][g]
			switch {
			case g == w:
				s.exact += n
			case g < w:
				s.misses += n
			default:
				s.falseAlarms += n
			}
			if w >= risk.High && g == risk.Low {
				s.dangerousAsLow += n
			}
		}
	}
	return s
}

func (c *confusion) write(w io.Writer, title string, total int) {
	s := c.scores()
	fmt.Fprintf(w, "%s: exact %d/%d (%.1f%%), misses %d (HIGH/BLOCKED judged LOW: %d), false alarms %d\n",
		title, s.exact, total, 100*float64(s.exact)/float64(total), s.misses, s.dangerousAsLow, s.falseAlarms)
	fmt.Fprintf(w, "  %-10s", "want\\got")
	for g := risk.Low; g <= risk.Blocked; g++ {
		fmt.Fprintf(w, "%9s", g)
	}
	fmt.Fprintln(w)
	for wl := risk.Low; wl <= risk.Blocked; wl++ {
		fmt.Fprintf(w, "  %-10s", wl)
		for g := risk.Low; g <= risk.Blocked; g++ {
			fmt.Fprintf(w, "%9d", c[wl][g])
		}
		fmt.Fprintln(w)
	}
}

// report is the outcome of one comparison.
type report struct {
	total       int
	mai, bandit confusion
	// banditSure counts only Bandit's findings of HIGH confidence
	banditSure confusion
	rows       []row
}

type row struct {
	name              string
	want, mai, bandit risk.Level
	severity, conf    string // Bandit's worst finding: its severity and confidence
}

func (r *report) maiWins() bool {
	m, b := r.mai.scores(), r.bandit.scores()
	return m.misses < b.misses && m.falseAlarms < b.falseAlarms
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Python samples: %d\n", r.total)
	fmt.Fprintln(w, "What this is: agreement with Mai's own labels. The corpus was labelled by Mai's authors to Mai's")
	fmt.Fprintln(w, "risk levels, which Bandit was not built for; it shows how far each tool's verdicts match that")
	fmt.Fprintln(w, "specification, not which tool is more accurate in general.")
	fmt.Fprintln(w, "Bandit mapping (severity of its worst finding): no issue → LOW, LOW → MEDIUM, MEDIUM → HIGH,")
	fmt.Fprintln(w, "HIGH → BLOCKED, parse error → HIGH.")
	fmt.Fprintln(w)
	r.mai.write(w, "Mai", r.total)
	fmt.Fprintln(w)
	r.bandit.write(w, "Bandit, all findings", r.total)
	fmt.Fprintln(w)
	r.banditSure.write(w, "Bandit, HIGH-confidence findings only", r.total)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Disagreements (sample: want / Mai / Bandit mapped, with Bandit's severity/confidence):")
	for _, x := range r.rows {
		if x.mai != x.want || x.bandit != x.want {
			fmt.Fprintf(w, "  %-40s %-8s %-8s %-8s %s/%s\n", x.name, x.want, x.mai, x.bandit, orNone(x.severity), orNone(x.conf))
		}
	}
	verdict := "no"
	if r.maiWins() {
		verdict = "yes"
	}
	fmt.Fprintf(w, "\nOn Mai's labels, Mai has fewer misses and fewer false alarms than Bandit: %s\n", verdict)
}

func compare(ctx context.Context, samples []sample, bandit string) (*report, error) {
	files := make([]string, len(samples))
	for i, s := range samples {
		files[i] = s.path
	}
	bl, err := runBandit(ctx, bandit, files)
	if err != nil {
		return nil, err
	}
	r := &report{total: len(samples)}
	for _, s := range samples {
		m := risk.Analyzer{}.Analyze(ctx, risk.Python, s.path, s.src).Level
		b := bl[s.path]
		r.mai[s.want][m]++
		r.bandit[s.want][b.level]++
		r.banditSure[s.want][b.sure]++
		r.rows = append(r.rows, row{filepath.Base(s.path), s.want, m, b.level, b.severity, b.confidence})
	}
	sort.Slice(r.rows, func(i, j int) bool { return r.rows[i].name < r.rows[j].name })
	return r, nil
}

// banditOutput is the part of `bandit -f json` this program reads.
type banditOutput struct {
	Errors []struct {
		Filename string `json:"filename"`
	} `json:"errors"`
	Results []struct {
		Filename   string `json:"filename"`
		Severity   string `json:"issue_severity"`
		Confidence string `json:"issue_confidence"`
	} `json:"results"`
}

// banditVerdict is Bandit's judgement of one file: the mapped level of its
// worst finding with that finding's severity and confidence, and the
// mapped level counting only findings of HIGH confidence.
type banditVerdict struct {
	level, sure          risk.Level
	severity, confidence string
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runBandit judges every file with Bandit and maps its severities.
func runBandit(ctx context.Context, bandit string, files []string) (map[string]banditVerdict, error) {
	if _, err := exec.LookPath(bandit); err != nil {
		return nil, fmt.Errorf("bandit is not installed (%v); install it with 'apt-get install -y bandit' or run .ci/risk.sh", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bandit, append([]string{"-f", "json", "-q"}, files...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return nil, fmt.Errorf("run bandit: %w", err)
	}
	var out banditOutput
	if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
		return nil, fmt.Errorf("read bandit's report: %v (exit %v, stderr %q)", jerr, err, strings.TrimSpace(stderr.String()))
	}
	levels := map[string]banditVerdict{}
	for _, e := range out.Errors {
		v := levels[e.Filename]
		v.level, v.sure, v.severity, v.confidence = max(v.level, risk.High), max(v.sure, risk.High), "parse error", ""
		levels[e.Filename] = v
	}
	for _, res := range out.Results {
		v := levels[res.Filename]
		l := banditLevel(res.Severity)
		if l > v.level || l == v.level && confRank(res.Confidence) > confRank(v.confidence) {
			v.level, v.severity, v.confidence = l, strings.ToUpper(res.Severity), strings.ToUpper(res.Confidence)
		}
		if strings.EqualFold(res.Confidence, "HIGH") {
			v.sure = max(v.sure, l)
		}
		levels[res.Filename] = v
	}
	return levels, nil
}

func confRank(c string) int {
	return map[string]int{"LOW": 1, "MEDIUM": 2, "HIGH": 3}[strings.ToUpper(c)]
}

func banditLevel(severity string) risk.Level {
	switch strings.ToUpper(severity) {
	case "HIGH":
		return risk.Blocked
	case "MEDIUM":
		return risk.High
	case "LOW":
		return risk.Medium
	}
	return risk.Low
}
