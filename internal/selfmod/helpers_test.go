package selfmod

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/review"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

// env is one data directory, one workspace repository and the pipeline.
type env struct {
	dir, repo string
	db        *store.DB
	log       *audit.Log
	approvals *approval.Service
	svc       *Service
	model     *scriptedModel
	checker   *countingChecker
}

// scriptedModel gives well-formed reviews with a fixed verdict.
type scriptedModel struct {
	verdict string
	calls   atomic.Int32
}

func (m *scriptedModel) Name() string { return "scripted" }

func (m *scriptedModel) Ask(context.Context, string, string) (string, error) {
	m.calls.Add(1)
	return `{"verdict":"` + m.verdict + `","concerns":["scripted concern"],"summary":"scripted summary"}`, nil
}

// countingChecker counts the jobs that reach the sandbox.
type countingChecker struct {
	sb    *sandbox.Sandbox
	calls atomic.Int32
}

func (c *countingChecker) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	c.calls.Add(1)
	if c.sb == nil {
		return sandbox.Result{ExitCode: -1}, sandbox.ErrEngine
	}
	return c.sb.Run(ctx, job)
}

// newEnv makes a workspace with persona.md and a passing ./check, and a
// pipeline with a scripted reviewer. withSandbox connects the real Docker
// engine for the checks (reporting it missing); without it checks are
// unavailable.
func newEnv(t *testing.T, withSandbox bool) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), repo: filepath.Join(t.TempDir(), "workspace"), model: &scriptedModel{verdict: "approve"}}
	initRepo(t, e.repo, map[string]string{"persona.md": "You are Mai.\n", "check": "#!/bin/sh\ngrep -q Mai persona.md\n"})
	e.open(t)
	if withSandbox {
		e.checker = &countingChecker{sb: testSandbox(t)}
	}
	e.svc = e.service(t, nil)
	return e
}

// open opens the database, audit log and approvals, as a (re)started
// process does.
func (e *env) open(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(e.dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(ctx, db.DB, audit.Options{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close(); db.Close() })
	e.db, e.log = db, log
	e.approvals = approval.New(db.DB, approval.Options{Audit: log, Poll: 20 * time.Millisecond})
}

func (e *env) service(t *testing.T, step func(id, step string)) *Service {
	t.Helper()
	o := Options{DB: e.db.DB, Approvals: e.approvals, Audit: e.log, Reviewer: review.Reviewer{Model: e.model},
		Dir: filepath.Join(e.dir, "selfmod"), Step: step, CheckImage: shellImage()}
	if e.checker != nil {
		o.Checker = e.checker
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shellImage() string {
	if v := os.Getenv("MAI_TEST_SHELL_IMAGE"); v != "" {
		return v
	}
	return "mai-test/busybox:1"
}

const howToFix = "run 'eval \"$(.ci/docker.sh)\"' as root (installs docker.io, starts dockerd, builds the test images)"

// testSandbox connects to the real engine with the busybox image.
func testSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Options{Image: shellImage(), Approver: CheckApprover{}, ExecImages: []string{goImageName()}})
	if err != nil {
		testenv.Missing(t, "dockerd", err.Error(), howToFix)
	}
	t.Cleanup(func() { sb.Close() })
	if st, err := sb.ImageStatus(ctx, shellImage()); err != nil || !st.Present {
		testenv.Missing(t, "test image "+shellImage(), "not built on this engine", howToFix)
	}
	return sb
}

// initRepo makes a git repository on branch main with one commit.
func initRepo(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	run(t, "", "git", "init", "-q", "-b", "main", dir)
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, "git", "add", "-A")
	run(t, dir, "git", "-c", "user.name=Owner", "-c", "user.email=owner@example.org", "commit", "-q", "-m", "start")
}

// run runs a command and returns its trimmed output.
func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (e *env) git(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, e.repo, "git", args...)
}

// proposal is a persona change.
func (e *env) proposal(content string) Proposal {
	return Proposal{Target: Target{Name: Workspace, Path: e.repo}, Subject: "persona: warmer", Rationale: "the owner asked",
		Request: "be warmer please", RequestedIn: "msg-1", Requester: "mai", Changes: []Change{{Path: "persona.md", Content: []byte(content)}}}
}

// decide decides the proposal's request as the local owner.
func (e *env) decide(t *testing.T, r Record, approve bool) {
	t.Helper()
	if _, err := e.approvals.Decide(context.Background(), r.ApprovalID, approval.Decision{Approve: approve, By: approval.LocalOwner,
		Via: approval.ViaTerminal, PayloadSHA256: r.DiffSHA256}); err != nil {
		t.Fatal(err)
	}
}

// actions returns the audit actions about subject, in order.
func (e *env) actions(t *testing.T, subject string) []string {
	t.Helper()
	rows, err := e.db.DB.Query(`SELECT action FROM audit_log WHERE subject = ? ORDER BY seq`, subject)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		rows.Scan(&a)
		out = append(out, a)
	}
	return out
}

// leftovers fails when a temporary worktree is left, in git or on disk.
func (e *env) leftovers(t *testing.T) {
	t.Helper()
	if n := len(strings.Split(e.git(t, "worktree", "list", "--porcelain"), "\n\n")); n != 1 {
		t.Fatalf("%d worktrees:\n%s", n, e.git(t, "worktree", "list"))
	}
	entries, _ := os.ReadDir(filepath.Join(e.dir, "selfmod"))
	for _, de := range entries {
		if de.IsDir() {
			t.Fatalf("left in the worktree folder: %s", de.Name())
		}
	}
}

// decided proposes p, decides its request and waits for the outcome.
func (e *env) decided(t *testing.T, p Proposal, approve bool) (proposed, got Record, err error) {
	t.Helper()
	ctx := context.Background()
	if proposed, err = e.svc.Propose(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.decide(t, proposed, approve)
	got, err = e.svc.Wait(ctx, proposed.ID)
	return proposed, got, err
}
