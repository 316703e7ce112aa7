package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/maicompanion/mai/internal/risk"
)

const riskExamples = `  mai risk script.py
  mai risk --rules --json
  mai risk --lang sh --json - < install.sh
  mai risk main.go --policy ./risk-policy.json`

// runRisk judges one file by its syntax tree. It exits 0 whenever the
// analysis completed, whatever the verdict: the verdict is the output.
func (m *Main) runRisk(ctx context.Context, args []string) error {
	fs := m.newFlagSet("risk", "risk [--lang python|sh|go] [--json] [--policy FILE] FILE|-\n       mai risk --rules [--json]", riskExamples)
	lang := fs.String("lang", "", "language of the code: python, sh or go (detected when empty)")
	asJSON := fs.Bool("json", false, "print the verdict as JSON")
	policyFile := fs.String("policy", "", "risk policy file (default: <workspace>/"+risk.PolicyFile+" when it exists)")
	rules := fs.Bool("rules", false, "list the built-in rules, their IDs and levels, and exit")
	files, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *rules {
		if len(files) > 0 {
			return fmt.Errorf("%w: unexpected argument %q: --rules lists the rules and takes no FILE (see 'mai risk --help')", errUsage, files[0])
		}
		return m.riskRules(*asJSON)
	}
	if len(files) != 1 {
		return fmt.Errorf("%w: risk takes exactly one FILE or - (see 'mai risk --help')", errUsage)
	}
	l, ok := risk.ParseLang(*lang)
	if *lang != "" && !ok {
		return fmt.Errorf("%w: unknown --lang %q: use python, sh or go", errUsage, *lang)
	}
	if *lang == "" {
		l = ""
	}
	policy, err := m.riskPolicy(*policyFile)
	if err != nil {
		return err
	}
	a := risk.Analyzer{Policy: policy}
	src, name, err := m.readRiskSource(files[0], riskReadLimit)
	if err != nil {
		return err
	}
	v := a.Analyze(ctx, l, name, src)
	if *asJSON {
		return writeRiskJSON(m.Stdout, v)
	}
	writeRiskText(m.Stdout, v)
	return nil
}

// riskRule is one row of 'mai risk --rules --json'.
type riskRule struct {
	ID      string     `json:"id"`
	Level   risk.Level `json:"level"`
	Summary string     `json:"summary"`
}

// riskRules lists the built-in rules, their IDs and levels.
func (m *Main) riskRules(asJSON bool) error {
	if asJSON {
		rows := []riskRule{}
		for _, r := range risk.Rules() {
			rows = append(rows, riskRule{r.ID, r.Level, r.Summary})
		}
		return m.writeJSON(rows)
	}
	for _, r := range risk.Rules() {
		fmt.Fprintf(m.Stdout, "%-30s %-8s %s\n", r.ID, r.Level, r.Summary)
	}
	return nil
}

// riskPolicy loads the policy named on the command line, or the
// workspace's policy (MAI_WORKSPACE, from the configuration Run loaded)
// when there is one.
func (m *Main) riskPolicy(file string) (*risk.Policy, error) {
	if file != "" {
		return risk.LoadPolicy(m.path(file))
	}
	return risk.LoadWorkspacePolicy(m.cfg.Workspace)
}

// riskReadLimit is the most `mai risk` reads. The analyser judges input
// over its part size (risk.DefaultMaxBytes) in parts and rates it at least
// HIGH, so reading far past that size is what keeps a blocked line behind
// padding BLOCKED (the sandbox gate judges all of what it runs).
const riskReadLimit = 64 << 20

// readRiskSource reads at most limit+1 bytes; what lies beyond is not read,
// and the analyser's too-large finding already makes such input HIGH.
func (m *Main) readRiskSource(file string, limit int) ([]byte, string, error) {
	var r io.Reader
	name := ""
	if file == "-" {
		r = m.Stdin
		if r == nil {
			r = strings.NewReader("")
		}
	} else {
		name = file
		f, err := os.Open(m.path(file))
		if err != nil {
			return nil, "", fmt.Errorf("cannot read %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	src, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, "", fmt.Errorf("cannot read %s: %w", orStdin(name), err)
	}
	return src, name, nil
}

func orStdin(name string) string {
	if name == "" {
		return "standard input"
	}
	return name
}

type riskJSON struct {
	Verdict    risk.Level     `json:"verdict"`
	Lang       risk.Lang      `json:"lang"`
	Findings   []risk.Finding `json:"findings"`
	Parsed     bool           `json:"parsed"`
	DurationMS float64        `json:"duration_ms"`
}

func writeRiskJSON(w io.Writer, v risk.Verdict) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(riskJSON{
		Verdict: v.Level, Lang: v.Lang, Findings: v.Findings, Parsed: v.Parsed,
		DurationMS: float64(v.Duration.Microseconds()) / 1000,
	})
}

func writeRiskText(w io.Writer, v risk.Verdict) {
	parsed := "parsed"
	if !v.Parsed {
		parsed = "not fully parsed"
	}
	lang := string(v.Lang)
	if lang == "" {
		lang = "unknown language"
	}
	fmt.Fprintf(w, "%s  (%s, %s, %.1f ms)\n", v.Level, lang, parsed, float64(v.Duration.Microseconds())/1000)
	if len(v.Findings) == 0 {
		fmt.Fprintln(w, "no findings: plain computation")
		return
	}
	for _, f := range v.Findings {
		fmt.Fprintf(w, "\n%d:%d  %s  %s\n", f.Line, f.Column, f.Level, f.Rule)
		if f.Excerpt != "" {
			fmt.Fprintf(w, "    %s\n", f.Excerpt)
		}
		fmt.Fprintf(w, "    %s\n", f.Reason)
	}
}
