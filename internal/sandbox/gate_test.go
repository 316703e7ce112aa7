package sandbox

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/risk"
)

// Code samples for each level. checkSample fails when the risk analyser
// judges one differently, so a changed rule shows up here as a stale sample
// rather than as a gate bug.
var (
	lowSample     = Job{Language: "python", Files: map[string][]byte{"main.py": []byte("print(sum(range(10)))\n")}}
	mediumSample  = Job{Language: "python", Files: map[string][]byte{"main.py": []byte("import os\nprint(os.environ.get('HOME'))\n")}}
	highSample    = Job{Language: "python", Files: map[string][]byte{"main.py": []byte("import subprocess\nsubprocess.run(['echo', 'approved'])\n")}}
	blockedSample = Job{Language: "sh", Files: map[string][]byte{"main.sh": []byte("rm -rf /\n")}}
)

func checkSample(t *testing.T, job Job, want risk.Level) {
	t.Helper()
	for name, src := range job.Files {
		lang := risk.Python
		if job.Language == "sh" {
			lang = risk.Shell
		}
		if v := risk.Analyze(context.Background(), lang, src); v.Level != want {
			t.Fatalf("sample %s is %s for the risk analyser, the test needs %s; update the sample (findings %+v)", name, v.Level, want, v.Findings)
		}
	}
}

// countingApprover is an Approver that answers a fixed decision and
// counts how often it was asked.
type countingApprover struct {
	mu      sync.Mutex
	asked   int
	approve bool
}

func (a *countingApprover) Approve(_ context.Context, req ApprovalRequest) (Approval, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked++
	return Approval{Approved: a.approve, By: "test", At: time.Now()}, nil
}

func TestGateLevels(t *testing.T) {
	checkSample(t, lowSample, risk.Low)
	checkSample(t, mediumSample, risk.Medium)
	checkSample(t, highSample, risk.High)
	checkSample(t, blockedSample, risk.Blocked)
	cli := rawClient(t)

	tests := []struct {
		name       string
		job        Job
		approver   Approver
		wantLevel  risk.Level
		wantRun    bool
		wantStdout string
		wantBy     string
		wantErr    error
	}{
		{name: "LOW runs", job: lowSample, wantLevel: risk.Low, wantRun: true, wantStdout: "45\n"},
		{name: "MEDIUM runs with its findings", job: mediumSample, wantLevel: risk.Medium, wantRun: true, wantStdout: "/work\n"},
		{name: "HIGH without approver is refused", job: highSample, wantLevel: risk.High},
		{name: "HIGH denied", job: highSample, approver: &countingApprover{approve: false}, wantLevel: risk.High, wantBy: "test"},
		{name: "HIGH approved", job: highSample, approver: &countingApprover{approve: true}, wantLevel: risk.High, wantRun: true, wantStdout: "approved\n", wantBy: "test"},
		{name: "HIGH with --yes", job: highSample, approver: TerminalApprover{Yes: true}, wantLevel: risk.High, wantRun: true, wantStdout: "approved\n", wantBy: "--yes"},
		{name: "HIGH confirmed on a terminal", job: highSample, approver: TerminalApprover{In: strings.NewReader("y\n"), Out: &strings.Builder{}, Interactive: true}, wantLevel: risk.High, wantRun: true, wantStdout: "approved\n", wantBy: "terminal"},
		{name: "HIGH declined on a terminal", job: highSample, approver: TerminalApprover{In: strings.NewReader("\n"), Out: &strings.Builder{}, Interactive: true}, wantLevel: risk.High, wantBy: "terminal"},
		{name: "HIGH without a terminal", job: highSample, approver: TerminalApprover{In: strings.NewReader("y\n"), Out: &strings.Builder{}}, wantLevel: risk.High, wantErr: ErrNoTerminal},
		{name: "BLOCKED refused although approved", job: blockedSample, approver: &countingApprover{approve: true}, wantLevel: risk.Blocked},
		{name: "BLOCKED refused with --yes", job: blockedSample, approver: TerminalApprover{Yes: true}, wantLevel: risk.Blocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSandbox(t, Options{Approver: tt.approver})
			job := tt.job
			job.ID = "gate-" + newJobID()
			if job.Language == "sh" {
				job.Image = shellImage()
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := s.Run(ctx, job)
			if res.Risk == nil || res.Risk.Level != tt.wantLevel {
				t.Fatalf("verdict = %+v, want %s", res.Risk, tt.wantLevel)
			}
			if tt.wantLevel == risk.Medium && len(res.Risk.Findings) == 0 {
				t.Errorf("MEDIUM result carries no findings")
			}
			if tt.wantRun {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if res.Stdout != tt.wantStdout || res.ExitCode != 0 {
					t.Errorf("exit %d stdout %q stderr %q, want %q", res.ExitCode, res.Stdout, res.Stderr, tt.wantStdout)
				}
			} else {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want it to wrap %v", err, tt.wantErr)
				}
				if re, ok := IsRefused(err); ok && !strings.Contains(re.Error(), tt.wantLevel.String()) {
					t.Errorf("refusal %q does not name the level", re)
				}
				if res.ContainerID != "" {
					t.Errorf("a refused job has a container: %+v", res)
				}
			}
			if tt.wantBy != "" && (res.Approval == nil || res.Approval.By != tt.wantBy) {
				t.Errorf("approval = %+v, want by %q", res.Approval, tt.wantBy)
			}
			if ca, ok := tt.approver.(*countingApprover); ok {
				wantAsked := 0
				if tt.wantLevel == risk.High {
					wantAsked = 1
				}
				if ca.asked != wantAsked {
					t.Errorf("approver asked %d times, want %d", ca.asked, wantAsked)
				}
			}
			assertNoLeftovers(t, cli, job.ID)
		})
	}
}

// TestRefusedJobsNeverReachDocker points the sandbox at an engine that
// records every request: a BLOCKED job, and a HIGH one nobody approves,
// must send nothing after the start-up ping.
func TestRefusedJobsNeverReachDocker(t *testing.T) {
	checkSample(t, highSample, risk.High)
	checkSample(t, blockedSample, risk.Blocked)
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var requests []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.41")
			w.Write([]byte("OK"))
			return
		}
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.Error(w, "the recording engine refuses everything", http.StatusTeapot)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := New(ctx, Options{Host: "unix://" + sock})
	if err != nil {
		t.Fatalf("new against the recording engine: %v", err)
	}
	defer s.Close()
	for _, job := range []Job{blockedSample, highSample} {
		_, err := s.Run(ctx, job)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("err = %v, want a refusal", err)
		}
	}
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), requests...)
	}
	if r := seen(); len(r) != 0 {
		t.Errorf("refused jobs reached the engine: %v", r)
	}
	// The recording engine does see other jobs: a LOW job reaches it.
	if _, err := s.Run(ctx, lowSample); err == nil || len(seen()) == 0 {
		t.Errorf("a LOW job did not reach the recording engine (err %v), so the check above proves nothing", err)
	}
}

// The workspace policy reaches the gate: it can raise a rule to BLOCKED,
// but lowering a BLOCKED rule still leaves it needing approval (HIGH).
func TestGateAppliesWorkspacePolicy(t *testing.T) {
	ctx := context.Background()
	rule := func(job Job, lang risk.Lang) string {
		for _, src := range job.Files {
			v := risk.Analyze(ctx, lang, src)
			if len(v.Findings) == 0 {
				t.Fatal("sample has no findings")
			}
			return v.Findings[0].Rule
		}
		return ""
	}
	policy := func(rule, level string) *risk.Policy {
		path := filepath.Join(t.TempDir(), "policy.json")
		os.WriteFile(path, []byte(`{"rules": {"`+rule+`": {"level": "`+level+`"}}}`), 0o600)
		p, err := risk.LoadPolicy(path)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		job  Job
		p    *risk.Policy
		want risk.Level
	}{
		{"raised to BLOCKED", mediumSample, policy(rule(mediumSample, risk.Python), "BLOCKED"), risk.Blocked},
		{"BLOCKED lowered only to HIGH", blockedSample, policy(rule(blockedSample, risk.Shell), "LOW"), risk.High},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSandbox(t, Options{Policy: tc.p})
			job := tc.job
			job.ID = "policy-" + newJobID()
			if job.Language == "sh" {
				job.Image = shellImage()
			}
			res, err := s.Run(ctx, job)
			if !errors.Is(err, ErrRefused) || res.Risk == nil || res.Risk.Level != tc.want || res.ContainerID != "" {
				t.Fatalf("err = %v, verdict = %+v, want refused at %s", err, res.Risk, tc.want)
			}
		})
	}
}

// The gate judges every file of a job that is code by the risk package's
// own reading of names and shebangs, so a helper the entry could run is
// never waved through as data. Offline: analyze needs no engine.
func TestGateJudgesHelperFilesAsRiskDetectsThem(t *testing.T) {
	const destroy = "import os\nos.system('rm -rf /')\n"
	tests := []struct {
		name, helper, src string
		want              risk.Level
	}{
		{"python helper", "tool.py", destroy, risk.Blocked},
		{"upper-case extension", "tool.PY", destroy, risk.Blocked},
		{"pyw extension", "tool.pyw", destroy, risk.Blocked},
		{"env shebang with a flag", "tool", "#!/usr/bin/env -S python3 -u\n" + destroy, risk.Blocked},
		// At least HIGH: judged by whatever parser accepts it, or not understood.
		{"unknown interpreter", "tool", "#!/usr/bin/perl\nunlink glob '*';\n", risk.High},
		{"data", "notes.txt", "rm -rf / is what not to type\n", risk.Low},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := offline().prepare(Job{Language: "python", Entry: "main.py",
				Files: map[string][]byte{"main.py": []byte("print(1)\n"), tt.helper: []byte(tt.src)}})
			if err != nil {
				t.Fatal(err)
			}
			v := analyze(context.Background(), nil, p)
			if v.Level < tt.want || (tt.want < risk.High && v.Level != tt.want) {
				t.Errorf("%s: %s %v, want %s", tt.helper, v.Level, v.Findings, tt.want)
			}
		})
	}
}
