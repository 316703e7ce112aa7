package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/maicompanion/mai/internal/sandbox"
)

// ErrNoApproval means an approval was asked for outside a turn, or about a
// job nobody is waiting on.
var ErrNoApproval = errors.New("no approval is pending")

// Approve asks the owner of the running turn, through its front end, whether
// a HIGH-risk job may run, and waits for Decide. It implements the sandbox
// gate's Approver for front ends that answer inline (the terminal); the
// persisted approvals that Discord answers are wired in by cmd/mai.
func (c *Core) Approve(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
	s, ok := ctx.Value(turnKey{}).(*session)
	if !ok {
		return sandbox.Approval{}, fmt.Errorf("%w: the job is not part of a conversation", ErrNoApproval)
	}
	ch := make(chan bool, 1)
	s.mu.Lock()
	emit := s.emit
	s.approvals[req.JobID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.approvals, req.JobID)
		s.mu.Unlock()
	}()
	if emit == nil {
		return sandbox.Approval{}, fmt.Errorf("%w: nobody to ask", ErrNoApproval)
	}
	a := &Approval{ID: req.JobID, Language: req.Language, Code: string(req.Source)}
	for _, f := range req.Verdict.Findings {
		a.Findings = append(a.Findings, fmt.Sprintf("%s line %d %s: %s", f.Level, f.Line, f.Rule, f.Reason))
	}
	emit(Event{Kind: EventApproval, Approval: a})
	select {
	case yes := <-ch:
		return sandbox.Approval{Approved: yes, By: "chat:" + s.user, At: time.Now()}, nil
	case <-ctx.Done():
		return sandbox.Approval{}, ctx.Err()
	}
}

// Decide answers the pending approval id of user's running turn.
func (c *Core) Decide(user, id string, approved bool) error {
	s := c.session(user)
	s.mu.Lock()
	ch := s.approvals[id]
	s.mu.Unlock()
	if ch == nil {
		return fmt.Errorf("%w: %s", ErrNoApproval, id)
	}
	select {
	case ch <- approved:
	default:
	}
	return nil
}
