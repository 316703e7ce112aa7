package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/testenv"
)

// TestMaiBeatsBanditOnMaiLabels runs the real Bandit over the Python corpus
// and requires Mai to have fewer misses and fewer false alarms than Bandit
// against the corpus's labels. The labels are Mai's own, to Mai's levels,
// with Bandit's severities mapped onto them (see riskcompare's doc): this is
// agreement with Mai's specification, not a general accuracy contest.
func TestMaiBeatsBanditOnMaiLabels(t *testing.T) {
	if _, err := exec.LookPath("bandit"); err != nil {
		testenv.Missing(t, "bandit", "the comparison runs the real Bandit", "run .ci/risk.sh or 'apt-get install -y bandit'")
	}
	var out bytes.Buffer
	code := run(context.Background(), &out, "../../testdata/corpus", "bandit")
	t.Log("\n" + out.String())
	if code != 0 {
		t.Fatalf("riskcompare exited %d", code)
	}
	for _, want := range []string{"Mai: exact", "Bandit, all findings: exact", "Bandit, HIGH-confidence findings only: exact",
		"agreement with Mai's own labels", "want\\got"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestBanditLevel(t *testing.T) {
	for sev, want := range map[string]string{"": "LOW", "LOW": "MEDIUM", "MEDIUM": "HIGH", "HIGH": "BLOCKED"} {
		if got := banditLevel(sev).String(); got != want {
			t.Errorf("%q maps to %s, want %s", sev, got, want)
		}
	}
}
