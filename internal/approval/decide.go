package approval

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/maicompanion/mai/internal/risk"
)

// Decision is the owner's answer to a request.
type Decision struct {
	Approve bool
	// By is who decides: LocalOwner at the terminal or control socket,
	// "discord:<user id>" from a reaction.
	By  string
	Via Via
	// PayloadSHA256 is the hash of the payload the decider was shown; a
	// decision for any other payload is refused.
	PayloadSHA256 string
	Reason        string
}

const columns = `id, kind, summary, payload, payload_sha256, verdict, review, checks, requester, created, expires, reminded,
	state, decided_by, decided_via, decided_at, reason`

// Get returns a request with its payload.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM approvals WHERE id = ?`, id)
	if err != nil {
		return Request{}, fmt.Errorf("read approval request: %w", err)
	}
	rs, err := scanRequests(rows)
	if err != nil {
		return Request{}, err
	}
	if len(rs) == 0 {
		return Request{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return rs[0], nil
}

// List returns the requests in state (all when ""), newest first.
func (s *Service) List(ctx context.Context, state State) ([]Request, error) {
	q, args := `SELECT `+columns+` FROM approvals`, []any{}
	if state != "" {
		q, args = q+` WHERE state = ?`, append(args, string(state))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created DESC, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read approval requests: %w", err)
	}
	return scanRequests(rows)
}

func scanRequests(rows *sql.Rows) ([]Request, error) {
	defer rows.Close()
	out := []Request{}
	for rows.Next() {
		var r Request
		var kind, verdict, review, checks, created, expires, reminded, state, via, decidedAt string
		if err := rows.Scan(&r.ID, &kind, &r.Summary, &r.Payload, &r.PayloadSHA256, &verdict, &review, &checks, &r.Requester,
			&created, &expires, &reminded, &state, &r.DecidedBy, &via, &decidedAt, &r.Reason); err != nil {
			return nil, fmt.Errorf("read approval requests: %w", err)
		}
		r.Kind, r.State, r.DecidedVia = Kind(kind), State(state), Via(via)
		if c := parseTime(created); c != nil {
			r.Created = *c
		}
		if e := parseTime(expires); e != nil {
			r.Expires = *e
		}
		r.Reminded, r.DecidedAt = parseTime(reminded), parseTime(decidedAt)
		if verdict != "" {
			r.Verdict = &risk.Verdict{}
			if err := json.Unmarshal([]byte(verdict), r.Verdict); err != nil {
				return nil, fmt.Errorf("approval request %s: stored verdict: %w", r.ID, err)
			}
		}
		if review != "" {
			r.Review = json.RawMessage(review)
		}
		if checks != "" {
			r.Checks = json.RawMessage(checks)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Decide records the owner's decision on a pending request. It refuses a
// decider who is not the owner and a payload hash that differs from the
// request's (both recorded in the audit log), and a request past its expiry.
func (s *Service) Decide(ctx context.Context, id string, d Decision) (Request, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return Request{}, err
	}
	refuse := func(why error) (Request, error) {
		if err := s.record(ctx, d.By, "approval.refuse", r, map[string]any{"via": d.Via, "approve": d.Approve, "why": why.Error(), "payload_sha256": d.PayloadSHA256}); err != nil {
			return r, err
		}
		return r, fmt.Errorf("approval request %s: %w", id, why)
	}
	switch {
	case r.State != Pending:
		return r, fmt.Errorf("%w: %s is %s", ErrNotPending, id, r.State)
	case !s.isOwner(d):
		return refuse(fmt.Errorf("%w: %s is not the owner", ErrNotOwner, d.By))
	case d.PayloadSHA256 != r.PayloadSHA256:
		return refuse(ErrHashMismatch)
	case !s.o.Now().Before(r.Expires):
		if err := s.expire(ctx, r); err != nil {
			return r, err
		}
		return r, fmt.Errorf("%w: %s expired at %s", ErrExpired, id, r.Expires.Format(time.RFC3339))
	}
	state, action := Denied, "approval.deny"
	if d.Approve {
		state, action = Approved, "approval.approve"
	}
	if err := s.finish(ctx, id, state, d.By, d.Via, d.Reason, action); err != nil {
		return r, err
	}
	return s.Get(ctx, id)
}

func (s *Service) isOwner(d Decision) bool {
	switch d.Via {
	case ViaDiscord:
		return s.o.DiscordOwner != "" && d.By == "discord:"+s.o.DiscordOwner
	case ViaTerminal, ViaControl, ViaFlag:
		return d.By == LocalOwner
	}
	return false
}

// Withdraw ends a pending request whose requester no longer waits (Ctrl-C).
func (s *Service) Withdraw(ctx context.Context, id, by string) error {
	return s.finish(ctx, id, Withdrawn, by, "", "the requester stopped waiting", "approval.withdraw")
}

func (s *Service) expire(ctx context.Context, r Request) error {
	err := s.finish(ctx, r.ID, Expired, "mai", "", "no answer by "+r.Expires.Format(time.RFC3339), "approval.expire")
	if errors.Is(err, ErrNotPending) {
		return nil // decided or expired by another process meanwhile
	}
	return err
}

// finish moves a pending request to a final state — once: the UPDATE only
// matches a pending row, so of two processes deciding at once one wins —
// then records it and tells the listeners.
func (s *Service) finish(ctx context.Context, id string, state State, by string, via Via, reason, action string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE approvals SET state = ?, decided_by = ?, decided_via = ?, decided_at = ?, reason = ?
		WHERE id = ? AND state = 'pending'`, string(state), by, string(via), formatTime(s.o.Now()), reason, id)
	if err != nil {
		return fmt.Errorf("store approval decision: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		r, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: %s is %s", ErrNotPending, id, r.State)
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	details := map[string]any{"state": state, "payload_sha256": r.PayloadSHA256}
	if via != "" {
		details["via"] = via
	}
	if reason != "" {
		details["reason"] = reason
	}
	err = s.record(ctx, by, action, r, details)
	s.changed()
	for _, l := range s.listeners {
		l.Decided(ctx, r)
	}
	return err
}

// remind sends the one reminder for r, unless another process already did.
func (s *Service) remind(ctx context.Context, r Request) error {
	now := s.o.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE approvals SET reminded = ? WHERE id = ? AND state = 'pending' AND reminded = ''`, formatTime(now), r.ID)
	if err != nil {
		return fmt.Errorf("store approval reminder: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	r.Reminded = &now
	err = s.record(ctx, "mai", "approval.remind", r, map[string]any{"pending_since": r.Created})
	for _, l := range s.listeners {
		l.Reminded(ctx, r)
	}
	return err
}

// Sweep expires every pending request past its expiry and reminds about
// every one pending longer than the reminder delay.
func (s *Service) Sweep(ctx context.Context) error {
	pending, err := s.List(ctx, Pending)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range pending {
		errs = append(errs, s.due(ctx, r))
	}
	return errors.Join(errs...)
}

// due expires or reminds about r when it is time.
func (s *Service) due(ctx context.Context, r Request) error {
	now := s.o.Now()
	if !now.Before(r.Expires) {
		return s.expire(ctx, r)
	}
	if r.Reminded == nil && !now.Before(r.Created.Add(s.o.Remind)) {
		return s.remind(ctx, r)
	}
	return nil
}

// Run sweeps until ctx ends: the daemon's part in reminders and expiry.
func (s *Service) Run(ctx context.Context, onError func(error)) {
	every := min(max(min(s.o.Remind, s.o.Expire)/10, s.o.Poll), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Wait returns the request once it is no longer pending, sending its
// reminder and expiring it on the way. A decision made in this process
// wakes it at once; one made by another process is seen within Poll.
// When ctx ends first it returns ctx's error and the request stays pending.
func (s *Service) Wait(ctx context.Context, id string) (Request, error) {
	for {
		wake := s.wakeup()
		r, err := s.Get(ctx, id)
		if err != nil || r.State != Pending {
			return r, err
		}
		if err := s.due(ctx, r); err != nil {
			return r, err
		}
		now := s.o.Now()
		next := min(s.o.Poll, r.Expires.Sub(now))
		if d := r.Created.Add(s.o.Remind).Sub(now); r.Reminded == nil && d > 0 {
			next = min(next, d)
		}
		t := time.NewTimer(max(next, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return r, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Supersede ends a pending request that something else made moot (a
// self-modification whose change no longer applies).
func (s *Service) Supersede(ctx context.Context, id, reason string) error {
	return s.finish(ctx, id, Superseded, "mai", "", reason, "approval.supersede")
}
