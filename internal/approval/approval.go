// Package approval holds the owner's decisions on what Mai may do: each
// request is bound to the SHA-256 of its exact payload, persisted (so it
// survives a restart), decided once and only by the owner, reminded about
// once, and expired when nobody answers. Every step is written to the audit
// log, and listeners (the Discord front end, the terminal) are told.
package approval

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/risk"
)

// Kind is what a request asks to do.
type Kind string

const (
	KindCodeRun Kind = "code_run"
	KindSelfMod Kind = "self_modification"
	KindPolicy  Kind = "policy_change"
)

// State is where a request stands; every state but Pending is final.
type State string

const (
	Pending    State = "pending"
	Approved   State = "approved"
	Denied     State = "denied"
	Expired    State = "expired"
	Superseded State = "superseded"
	Withdrawn  State = "withdrawn" // the requester stopped waiting
)

// States lists every state, for validating a filter.
var States = []State{Pending, Approved, Denied, Expired, Superseded, Withdrawn}

// Via is how a decision reached Mai.
type Via string

const (
	ViaTerminal Via = "terminal" // typed at the prompt or with mai approvals
	ViaDiscord  Via = "discord"  // a reaction on the request's message
	ViaControl  Via = "control"  // the daemon's control socket
	ViaFlag     Via = "flag"     // mai sandbox run --yes: approved before asking
)

// LocalOwner is the owner at this machine's terminal: whoever can read the
// data directory (and knows the PIN, when one is stored).
const LocalOwner = "local"

// Request is one approval request.
type Request struct {
	ID            string          `json:"id"`
	Kind          Kind            `json:"kind"`
	Summary       string          `json:"summary"`
	Payload       []byte          `json:"-"`
	PayloadSHA256 string          `json:"payload_sha256"`
	Verdict       *risk.Verdict   `json:"verdict,omitempty"`
	Review        json.RawMessage `json:"review,omitempty"`
	Checks        json.RawMessage `json:"checks,omitempty"`
	Requester     string          `json:"requester"`
	Created       time.Time       `json:"created"`
	Expires       time.Time       `json:"expires"`
	Reminded      *time.Time      `json:"reminded,omitempty"`
	State         State           `json:"state"`
	DecidedBy     string          `json:"decided_by,omitempty"`
	DecidedVia    Via             `json:"decided_via,omitempty"`
	DecidedAt     *time.Time      `json:"decided_at,omitempty"`
	Reason        string          `json:"reason,omitempty"`
}

// NewRequest is what a caller asks approval for.
type NewRequest struct {
	Kind      Kind
	Summary   string // one line
	Payload   []byte // exactly what will be done if approved
	Verdict   *risk.Verdict
	Review    json.RawMessage // filled by the review issue
	Checks    json.RawMessage // filled by the self-modification issue
	Requester string
	// Supersedes names an earlier pending request this one replaces.
	Supersedes string
}

// Listener is told about requests as they change; the Discord front end
// posts an embed, the terminal prints a prompt. Calls are made after the
// change is stored, from the goroutine that made it; they must not block.
type Listener interface {
	Requested(ctx context.Context, r Request)
	Reminded(ctx context.Context, r Request)
	Decided(ctx context.Context, r Request) // any final state
}

// Auditor is where every step is recorded (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, recs ...audit.Record) ([]audit.Entry, error)
}

// Options configures a Service.
type Options struct {
	Audit Auditor
	// DiscordOwner is the owner's Discord user id; without it no Discord
	// reaction decides anything.
	DiscordOwner string
	Remind       time.Duration // one reminder after this long pending; default 5m
	Expire       time.Duration // expiry; default 24h
	// Poll is how often Wait looks for a decision made by another process;
	// default 250ms.
	Poll time.Duration
	Now  func() time.Time
}

// Errors a caller branches on.
var (
	ErrNotFound     = errors.New("no such approval request")
	ErrNotPending   = errors.New("the request is already decided")
	ErrExpired      = errors.New("the request has expired")
	ErrNotOwner     = errors.New("only the owner may decide")
	ErrHashMismatch = errors.New("the payload's SHA-256 differs from the request's")
)

// Service creates, decides and waits on requests.
type Service struct {
	db        *sql.DB
	o         Options
	listeners []Listener

	mu   sync.Mutex
	wake chan struct{} // closed and replaced whenever a request changes here
}

// New returns a Service over a migrated database.
func New(db *sql.DB, o Options, listeners ...Listener) *Service {
	if o.Remind <= 0 {
		o.Remind = 5 * time.Minute
	}
	if o.Expire <= 0 {
		o.Expire = 24 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: db, o: o, listeners: listeners, wake: make(chan struct{})}
}

// Hash returns the hex SHA-256 that binds a decision to a payload.
func Hash(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// Create stores a pending request, records it and tells the listeners.
func (s *Service) Create(ctx context.Context, nr NewRequest) (Request, error) {
	if nr.Summary = strings.Join(strings.Fields(nr.Summary), " "); nr.Summary == "" {
		return Request{}, errors.New("approval request without a summary")
	}
	now := s.o.Now().UTC()
	r := Request{Kind: nr.Kind, Summary: nr.Summary, Payload: nr.Payload, PayloadSHA256: Hash(nr.Payload), Verdict: nr.Verdict,
		Review: nr.Review, Checks: nr.Checks, Requester: nr.Requester, Created: now, Expires: now.Add(s.o.Expire), State: Pending}
	verdict := ""
	if nr.Verdict != nil {
		b, err := json.Marshal(nr.Verdict)
		if err != nil {
			return Request{}, err
		}
		verdict = string(b)
	}
	for attempt := 0; ; attempt++ {
		r.ID = newID()
		_, err := s.db.ExecContext(ctx, `INSERT INTO approvals (id, kind, summary, payload, payload_sha256, verdict, review, checks,
			requester, created, expires, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
			r.ID, string(r.Kind), r.Summary, r.Payload, r.PayloadSHA256, verdict, string(r.Review), string(r.Checks),
			r.Requester, formatTime(r.Created), formatTime(r.Expires))
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "UNIQUE") {
			return Request{}, fmt.Errorf("store approval request: %w", err)
		}
	}
	if err := s.record(ctx, r.Requester, "approval.request", r, map[string]any{
		"kind": r.Kind, "summary": r.Summary, "payload_sha256": r.PayloadSHA256, "expires": r.Expires, "verdict": levelOf(r.Verdict)}); err != nil {
		return r, err
	}
	if nr.Supersedes != "" {
		if err := s.finish(ctx, nr.Supersedes, Superseded, "mai", "", "superseded by "+r.ID, "approval.supersede"); err != nil && !errors.Is(err, ErrNotPending) {
			return r, err
		}
	}
	s.changed()
	for _, l := range s.listeners {
		l.Requested(ctx, r)
	}
	return r, nil
}

func levelOf(v *risk.Verdict) string {
	if v == nil {
		return ""
	}
	return v.Level.String()
}

// newID returns 8 characters that are easy to read out and type.
func newID() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz123456789" // 32: no i, l, o, 0
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}

// record writes one audit entry about r.
func (s *Service) record(ctx context.Context, actor, action string, r Request, details map[string]any) error {
	if s.o.Audit == nil {
		return nil
	}
	_, err := s.o.Audit.Append(context.WithoutCancel(ctx), audit.Record{Actor: actor, Action: action, Subject: r.ID, Details: details})
	return err
}

// changed wakes every Wait in this process.
func (s *Service) changed() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Service) wakeup() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

// timeLayout has a fixed width, so stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return nil
	}
	return &t
}
