package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/testenv"
)

const workflowPath = ".github/workflows/discord_sync.yml"

// brokenWorkflow has one mistake for actionlint itself (an input that
// actions/checkout does not have) and one only shellcheck finds (an unquoted
// variable, SC2086). It shows that the lint step can fail.
const brokenWorkflow = `name: broken
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
        with:
          no-such-input: true
      - run: echo $GITHUB_SHA
`

// repoRoot is the directory of the module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("go env GOMOD: not inside the module")
	}
	return filepath.Dir(mod)
}

// actionlint runs the actionlint pinned in go.mod from the repository root,
// with shellcheck at the given path ("" turns the shellcheck rule off). It
// returns actionlint's report (its standard output) and exit status. The go
// command's own lines ("go: downloading …" on a fresh module cache) go to
// standard error and are returned apart, for a failure message only.
func actionlint(t *testing.T, root, shellcheck, file string) (report, stderr string, status int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "tool", "actionlint", "-no-color", "-shellcheck="+shellcheck, "-pyflakes=", file)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		t.Fatalf("go tool actionlint: %v\n%s", err, errOut.String())
	}
	return out.String(), errOut.String(), status
}

// actionlint's exit statuses: 0 no problem, 1 problems reported; anything
// else (2 bad command line, 3 fatal, or the go command failing to build it)
// means the lint did not run.
const actionlintFound = 1

func TestWorkflowPassesActionlint(t *testing.T) {
	root := repoRoot(t)
	broken := filepath.Join(t.TempDir(), "broken.yml")
	if err := os.WriteFile(broken, []byte(brokenWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		shellcheck bool
		file       string
		wantReport []string // nil: the file must be clean
	}{
		{name: "workflow, actionlint rules", file: workflowPath},
		{name: "workflow, with shellcheck on run steps", shellcheck: true, file: workflowPath},
		{name: "broken workflow is reported", file: broken, wantReport: []string{"no-such-input"}},
		{name: "broken run step is reported by shellcheck", shellcheck: true, file: broken, wantReport: []string{"no-such-input", "SC2086"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := ""
			if tt.shellcheck {
				path, err := exec.LookPath("shellcheck")
				if err != nil {
					testenv.Missing(t, "shellcheck", "actionlint checks the workflow's run: steps with it", "run .ci/webhook.sh (or apt-get install shellcheck)")
				}
				sc = path
			}
			report, stderr, status := actionlint(t, root, sc, tt.file)
			if status != 0 && status != actionlintFound {
				t.Fatalf("actionlint did not run (exit status %d):\n%s%s", status, report, stderr)
			}
			if tt.wantReport == nil {
				if status != 0 || report != "" {
					t.Fatalf("actionlint %s reports problems (exit status %d):\n%s", tt.file, status, report)
				}
				return
			}
			if status != actionlintFound {
				t.Fatalf("actionlint passed a broken workflow:\n%s", report)
			}
			for _, want := range tt.wantReport {
				if !strings.Contains(report, want) {
					t.Errorf("actionlint's report does not mention %q:\n%s", want, report)
				}
			}
		})
	}
}
