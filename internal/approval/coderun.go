package approval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
)

// CodeRun is the sandbox gate's Approver backed by approval requests: a
// HIGH-risk job becomes a code_run request whose payload is the job's entry
// file, and runs only when the owner approves that exact payload.
type CodeRun struct {
	Service   *Service
	Requester string
	// Yes approves at once as the local owner (mai sandbox run --yes); the
	// request and its decision are stored and audited like any other.
	Yes bool
	// Timeout bounds the wait for a decision; then the request is
	// withdrawn. Zero waits until ctx ends (or the request expires).
	Timeout time.Duration
	// Created, when set, is called with the new request before the wait
	// (and before a Yes decision): the CLI prints its id and how to decide
	// it, and checks the PIN for --yes. An error withdraws the request.
	Created func(ctx context.Context, r Request) error
}

// ErrWithdrawn: the caller stopped waiting, so the request was withdrawn.
var ErrWithdrawn = errors.New("the approval request was withdrawn")

// Approve implements sandbox.Approver.
func (c CodeRun) Approve(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
	verdict := req.Verdict
	r, err := c.Service.Create(ctx, NewRequest{Kind: KindCodeRun, Summary: CodeRunSummary(req), Payload: req.Source,
		Verdict: &verdict, Requester: c.Requester})
	if err != nil {
		return sandbox.Approval{}, err
	}
	withdraw := func(cause error) (sandbox.Approval, error) {
		if err := c.Service.Withdraw(context.WithoutCancel(ctx), r.ID, c.Requester); err != nil && !errors.Is(err, ErrNotPending) {
			return sandbox.Approval{ID: r.ID}, errors.Join(cause, err)
		}
		return sandbox.Approval{ID: r.ID}, cause
	}
	if c.Created != nil {
		if err := c.Created(ctx, r); err != nil {
			return withdraw(err)
		}
	}
	if c.Yes {
		if _, err := c.Service.Decide(ctx, r.ID, Decision{Approve: true, By: LocalOwner, Via: ViaFlag, PayloadSHA256: r.PayloadSHA256, Reason: "--yes"}); err != nil {
			return withdraw(err)
		}
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if c.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	defer cancel()
	final, err := c.Service.Wait(wctx, r.ID)
	if err != nil && wctx.Err() != nil {
		if final, _ = c.Service.Get(context.WithoutCancel(ctx), r.ID); final.State == Pending {
			if ctx.Err() == nil {
				return withdraw(fmt.Errorf("%w: %s: no decision within %s", ErrWithdrawn, r.ID, c.Timeout))
			}
			return withdraw(fmt.Errorf("%w: %s: %w", ErrWithdrawn, r.ID, ctx.Err()))
		}
	} else if err != nil {
		return sandbox.Approval{ID: r.ID}, err
	}
	a := sandbox.Approval{ID: r.ID, Approved: final.State == Approved, By: decidedBy(final)}
	if final.DecidedAt != nil {
		a.At = *final.DecidedAt
	}
	switch {
	case final.State == Expired:
		return a, fmt.Errorf("%w: %s (no answer by %s)", ErrExpired, r.ID, final.Expires.Format("2006-01-02 15:04 MST"))
	case final.State != Approved && final.State != Denied:
		return a, fmt.Errorf("approval request %s is %s", r.ID, final.State)
	case a.Approved && final.PayloadSHA256 != Hash(req.Source):
		return sandbox.Approval{ID: r.ID}, fmt.Errorf("approval request %s: %w", r.ID, ErrHashMismatch)
	}
	return a, nil
}

// decidedBy says who decided and how: "local (terminal)", "--yes".
func decidedBy(r Request) string {
	if r.DecidedVia == ViaFlag {
		return "--yes"
	}
	if r.DecidedVia == "" {
		return r.DecidedBy
	}
	return r.DecidedBy + " (" + string(r.DecidedVia) + ")"
}

// CodeRunSummary is the one line a code_run request is shown with.
func CodeRunSummary(req sandbox.ApprovalRequest) string {
	var rules []string
	seen := map[string]bool{}
	for _, f := range req.Verdict.Findings {
		if f.Level >= risk.High && !seen[f.Rule] {
			seen[f.Rule] = true
			rules = append(rules, f.Rule)
		}
	}
	s := fmt.Sprintf("run %s job %s (%s): %s", req.Language, req.JobID, req.Entry, req.Verdict.Level)
	if len(rules) > 0 {
		s += " — " + strings.Join(rules, ", ")
	}
	return s
}
