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
// a HIGH-risk job may run, and waits for Decide: the sandbox gate's
// Approver where no approval requests are kept. Mai itself wires the
// persisted requests instead (approval.CodeRun), whose approver shows each
// one with Ask.
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

// ErrPINRequired: a PIN is stored and the decision or command that changes
// state came without it (or with a wrong one); the front end asks for it
// and tries again.
var ErrPINRequired = errors.New("the PIN is needed for this")

// Ask shows a persisted approval request (made by the gate's approver,
// which waits for its decision) to the front end of the running turn in
// ctx; the owner's answer reaches Config.Decide through Core.Decide. It
// returns ErrNoApproval outside a turn: the request then waits for a
// decision made elsewhere (Discord, mai approvals).
func (c *Core) Ask(ctx context.Context, a Approval) error {
	s, ok := ctx.Value(turnKey{}).(*session)
	if !ok {
		return fmt.Errorf("%w: the job is not part of a conversation", ErrNoApproval)
	}
	s.mu.Lock()
	emit := s.emit
	s.asked[a.ID] = a
	s.mu.Unlock()
	if emit == nil {
		return fmt.Errorf("%w: nobody to ask", ErrNoApproval)
	}
	emit(Event{Kind: EventApproval, Approval: &a})
	return nil
}

// Decide answers the pending approval id of user's running turn: a
// request shown by Ask goes to Config.Decide with the hash of the payload
// shown; one asked inline by Approve is answered directly. pin is passed
// on to Config.Decide, which checks it when a PIN is stored.
func (c *Core) Decide(ctx context.Context, user, id string, approved bool, pin string) error {
	s := c.session(user)
	s.mu.Lock()
	ch := s.approvals[id]
	asked, isAsked := s.asked[id]
	s.mu.Unlock()
	if isAsked && c.cfg.Decide != nil {
		if err := c.cfg.Decide(ctx, asked, approved, pin); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.asked, id)
		s.mu.Unlock()
		return nil
	}
	if ch == nil {
		return fmt.Errorf("%w: %s", ErrNoApproval, id)
	}
	select {
	case ch <- approved:
	default:
	}
	return nil
}
