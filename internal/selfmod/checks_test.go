package selfmod

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// The check that runs is the target branch's, before the change: a
// proposal that replaces ./check with one that always passes still meets
// the old one, in the real sandbox.
func TestChecksRunTheTargetBranchVersion(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	p := e.proposal("You are someone.\n") // fails the branch's check (grep -q Mai)
	p.Changes = append(p.Changes, Change{Path: "check", Content: []byte("#!/bin/sh\nexit 0\n")})
	r, err := e.svc.Propose(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if e.checker.calls.Load() != 1 || r.Checks.Status != "failed" || r.Checks.ExitCode != 1 || r.Checks.Command != "./check" {
		t.Fatalf("checks %+v", r.Checks)
	}
	a, _ := e.approvals.Get(ctx, r.ApprovalID)
	if !strings.Contains(a.Summary, "checks failed") || !strings.Contains(string(a.Checks), `"status":"failed"`) {
		t.Fatalf("the request does not show the failure: %s %s", a.Summary, a.Checks)
	}
	before := e.git(t, "rev-parse", "main")
	e.decide(t, r, true)
	got, err := e.svc.Wait(ctx, r.ID)
	if !errors.Is(err, ErrChecksFailed) || got.State != Failed || e.git(t, "rev-parse", "main") != before {
		t.Fatalf("approved despite failing checks without the override: %+v %v", got, err)
	}
	e.leftovers(t)

	p.Flags.DespiteChecks = true
	if _, got, err = e.decided(t, p, true); err != nil || got.State != Committed {
		t.Fatalf("with the override: %+v %v", got, err)
	}
	if body := e.git(t, "log", "-1", "--format=%b"); !strings.Contains(body, "Checks: failed (./check, exit 1)") ||
		!strings.Contains(body, "despite the failing checks") {
		t.Fatalf("body:\n%s", body)
	}
}

func TestPassingCheckAndBlockedCheck(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	r, err := e.svc.Propose(ctx, e.proposal("You are Mai, and kind.\n"))
	if err != nil || r.Checks.Status != "passed" || r.Checks.ExitCode != 0 || r.Checks.Base != r.Base {
		t.Fatalf("%+v %v", r.Checks, err)
	}
	// A branch whose own check is BLOCKED: it never runs.
	e.git(t, "checkout", "-q", "-b", "bad")
	writeChanges(e.repo, []Change{{Path: "check", Content: []byte("#!/bin/sh\nrm -rf /\n")}})
	e.git(t, "-c", "user.name=O", "-c", "user.email=o@example.org", "commit", "-qam", "bad check")
	calls := e.checker.calls.Load()
	r, err = e.svc.Propose(ctx, e.proposal("You are Mai, and calm.\n"))
	if err != nil || r.Checks.Status != "blocked" || e.checker.calls.Load() != calls {
		t.Fatalf("%+v %v (sandbox calls %d → %d)", r.Checks, err, calls, e.checker.calls.Load())
	}
}
