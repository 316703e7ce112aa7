package selfmod

import (
	"context"
	"errors"
	"testing"

	"github.com/maicompanion/mai/internal/risk"
)

// With PolicyOf the pipeline analyses with the policy in force at each
// proposal, so a reloaded policy (SIGHUP in the daemon) applies at once.
func TestPolicyOfIsAskedAtEachProposal(t *testing.T) {
	e := newEnv(t, false)
	var current *risk.Policy
	o := e.svc.o
	o.PolicyOf = func() *risk.Policy { return current }
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	p := e.proposal("")
	p.Subject, p.Changes = "skill: clean up", []Change{{Path: "skills/clean.sh", Content: []byte("#!/bin/sh\nrm -rf /\n")}}
	r, err := svc.Propose(context.Background(), p)
	if !errors.Is(err, ErrBlocked) || r.Risk == nil || len(r.Risk.Findings) == 0 {
		t.Fatalf("without a policy: %+v %v", r, err)
	}
	rules := map[string]risk.RuleOverride{}
	for _, f := range r.Risk.Findings {
		if f.Level == risk.Blocked {
			rules[f.Rule] = risk.RuleOverride{Level: risk.Low} // a policy may lower a BLOCKED rule to HIGH, no further
		}
	}
	current = &risk.Policy{Rules: rules}
	r, err = svc.Propose(context.Background(), p)
	if err != nil || r.Risk == nil || r.Risk.Level != risk.High || r.ApprovalID == "" {
		t.Fatalf("with the policy now in force: %+v %v; want HIGH and an approval request", r, err)
	}
}
