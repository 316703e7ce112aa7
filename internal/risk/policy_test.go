package risk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func writePolicy(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, filepath.FromSlash(PolicyFile))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPolicy(t *testing.T) {
	ws := writePolicy(t, `{
  "rules": {
    "import.third-party": {"level": "LOW"},
    "net.client": {"level": "HIGH"},
    "destroy.filesystem": {"level": "LOW"},
    "parse.error": {"level": "LOW"}
  },
  "exempt": [
    {"rule": "process.spawn", "path": "tools/**/*.sh"},
    {"rule": "privilege.escalate", "path": "*.sh"}
  ]
}`)
	p, err := LoadWorkspacePolicy(ws)
	if err != nil || p == nil {
		t.Fatalf("load: %v", err)
	}
	a := Analyzer{Policy: p}
	cases := []struct {
		name, lang, file, src string
		want                  Level
	}{
		{"lowered rule", "python", "", "import numpy\n", Low},
		{"raised rule", "sh", "", "curl https://example.com\n", High},
		{"blocked rule stops at HIGH", "sh", "", "rm -rf /\n", High},
		{"integrity rule stops at HIGH", "python", "", "def f(:\n", High},
		{"exempt path", "sh", "tools/ci/deep/build.sh", "git status\n", Low},
		{"exempt path does not match", "sh", "other/build.sh", "git status\n", High},
		{"exempting a blocked rule leaves HIGH", "sh", "x.sh", "sudo ls\n", High},
		{"no name, no exemption", "sh", "", "git status\n", High},
	}
	for _, c := range cases {
		v := a.Analyze(context.Background(), Lang(c.lang), c.file, []byte(c.src))
		if v.Level != c.want {
			t.Errorf("%s: got %s, want %s (%+v)", c.name, v.Level, c.want, v.Findings)
		}
	}
}

func TestPolicyErrors(t *testing.T) {
	if p, err := LoadWorkspacePolicy(t.TempDir()); p != nil || err != nil {
		t.Errorf("missing policy: %v, %v", p, err)
	}
	for name, content := range map[string]string{
		"unknown rule":    `{"rules": {"no.such": {"level": "LOW"}}}`,
		"unknown level":   `{"rules": {"net.client": {"level": "SEVERE"}}}`,
		"unknown field":   `{"rulez": {}}`,
		"bad glob":        `{"exempt": [{"rule": "net.client", "path": "["}]}`,
		"exempt bad rule": `{"exempt": [{"rule": "nope", "path": "*"}]}`,
		"not json":        `rules: {}`,
	} {
		if _, err := LoadWorkspacePolicy(writePolicy(t, content)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRulesTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || r.Summary == "" {
			t.Errorf("rule %q duplicated or without summary", r.ID)
		}
		seen[r.ID] = true
	}
	if ruleLevel("no.such.rule") != High {
		t.Error("an unknown rule must count as HIGH")
	}
}
