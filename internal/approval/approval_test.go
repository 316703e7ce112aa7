package approval

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
)

// env is a data directory with a migrated database and an audit log.
type env struct {
	dir string
	db  *store.DB
	log *audit.Log
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	e.db, e.log = e.open(t)
	return e
}

// open opens another handle on the same data directory, as another
// process or a restarted one would.
func (e *env) open(t *testing.T) (*store.DB, *audit.Log) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(e.dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(context.Background(), db.DB, audit.Options{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close(); db.Close() })
	return db, log
}

// actions returns the audit log's actions about subject, in order.
func (e *env) actions(t *testing.T, subject string) []string {
	t.Helper()
	entries, err := audit.List(context.Background(), e.db.DB, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range entries {
		if x.Subject == subject {
			out = append(out, x.Action)
		}
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Listener that remembers what it was told.
type recorder struct {
	mu                           sync.Mutex
	requested, reminded, decided []string
}

func (r *recorder) Requested(_ context.Context, q Request) { r.add(&r.requested, q) }
func (r *recorder) Reminded(_ context.Context, q Request)  { r.add(&r.reminded, q) }
func (r *recorder) Decided(_ context.Context, q Request)   { r.add(&r.decided, q.ID+":"+string(q.State)) }
func (r *recorder) add(to *[]string, q any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch v := q.(type) {
	case Request:
		*to = append(*to, v.ID)
	case string:
		*to = append(*to, v)
	}
}
func (r *recorder) counts() (int, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requested), len(r.reminded), len(r.decided)
}

var highVerdict = risk.Verdict{Level: risk.High, Lang: risk.Python, Parsed: true,
	Findings: []risk.Finding{{Rule: "process.spawn", Level: risk.High, Line: 2, Reason: "runs another program"}}}

func newRequest(payload string) NewRequest {
	v := highVerdict
	return NewRequest{Kind: KindCodeRun, Summary: "run python job j1 (main.py): HIGH", Payload: []byte(payload), Verdict: &v, Requester: "local"}
}

func TestApproveBoundToPayloadAndAudited(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	s := New(e.db.DB, Options{Audit: e.log}, rec)
	ctx := context.Background()
	r, err := s.Create(ctx, newRequest("import os\nos.system('ls')\n"))
	if err != nil {
		t.Fatal(err)
	}
	// SHA-256 of the exact payload, as sha256sum prints it.
	const want = "49fc7d00fa4fef4dff5717c45217afcef4bfe5c768719b3a50cbb36efc214d67"
	if r.State != Pending || r.PayloadSHA256 != want || len(r.ID) != 8 {
		t.Fatalf("%+v", r)
	}
	got, err := s.Decide(ctx, r.ID, Decision{Approve: true, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: Hash([]byte("import os\nos.system('rm -rf ~')\n"))})
	if !errors.Is(err, ErrHashMismatch) || got.State != Pending {
		t.Fatalf("another payload's hash: %v, state %s", err, got.State)
	}
	got, err = s.Decide(ctx, r.ID, Decision{Approve: true, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: r.PayloadSHA256})
	if err != nil || got.State != Approved || got.DecidedBy != LocalOwner || got.DecidedVia != ViaTerminal || got.DecidedAt == nil {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := s.Decide(ctx, r.ID, Decision{Approve: false, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: r.PayloadSHA256}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second decision: %v", err)
	}
	if a := strings.Join(e.actions(t, r.ID), " "); a != "approval.request approval.refuse approval.approve" {
		t.Errorf("audit: %s", a)
	}
	if req, _, dec := rec.counts(); req != 1 || dec != 1 {
		t.Errorf("listener: %+v", rec)
	}
	if rep, err := e.log.Verify(ctx); err != nil || !rep.OK {
		t.Errorf("audit verify: %+v %v", rep, err)
	}
}

func TestOnlyTheOwnerDecides(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		owner string
		d     Decision
		ok    bool
	}{
		{"another Discord user", "1001", Decision{By: "discord:2002", Via: ViaDiscord}, false},
		{"Discord without a configured owner", "", Decision{By: "discord:1001", Via: ViaDiscord}, false},
		{"the terminal claiming a Discord user", "1001", Decision{By: "discord:1001", Via: ViaTerminal}, false},
		{"Discord claiming the terminal", "1001", Decision{By: LocalOwner, Via: ViaDiscord}, false},
		{"the Discord owner", "1001", Decision{By: "discord:1001", Via: ViaDiscord}, true},
		{"the terminal owner", "", Decision{By: LocalOwner, Via: ViaTerminal}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(e.db.DB, Options{Audit: e.log, DiscordOwner: tt.owner})
			r, err := s.Create(ctx, newRequest("print(1)"))
			if err != nil {
				t.Fatal(err)
			}
			tt.d.PayloadSHA256, tt.d.Approve = r.PayloadSHA256, true
			got, err := s.Decide(ctx, r.ID, tt.d)
			if tt.ok != (err == nil) || (!tt.ok && (!errors.Is(err, ErrNotOwner) || got.State != Pending)) {
				t.Fatalf("err %v, state %s", err, got.State)
			}
			if !tt.ok && e.actions(t, r.ID)[1] != "approval.refuse" {
				t.Errorf("the refusal is not audited: %v", e.actions(t, r.ID))
			}
		})
	}
}

func TestReminderOnceThenExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	s := New(e.db.DB, Options{Audit: e.log, Now: c.Now, Remind: 5 * time.Minute, Expire: time.Hour}, rec)
	r, err := s.Create(ctx, newRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after    time.Duration
		reminded int
		state    State
	}{
		{4*time.Minute + 59*time.Second, 0, Pending},
		{time.Second, 1, Pending},
		{10 * time.Minute, 1, Pending},
		{44*time.Minute + 59*time.Second, 1, Pending},
		{time.Second, 1, Expired},
	}
	for i, st := range steps {
		c.Add(st.after)
		if err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, r.ID)
		if _, reminded, _ := rec.counts(); reminded != st.reminded || got.State != st.state {
			t.Fatalf("step %d: %d reminders, state %s; want %d, %s", i, reminded, got.State, st.reminded, st.state)
		}
	}
	if _, err := s.Decide(ctx, r.ID, Decision{Approve: true, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: r.PayloadSHA256}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("deciding an expired request: %v", err)
	}
	if a := strings.Join(e.actions(t, r.ID), " "); a != "approval.request approval.remind approval.expire" {
		t.Errorf("audit: %s", a)
	}
}

// A decision arriving after the expiry time, before any sweep, is refused.
func TestDecisionAfterExpiryRefused(t *testing.T) {
	e := newEnv(t)
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	s := New(e.db.DB, Options{Audit: e.log, Now: c.Now, Expire: time.Hour})
	r, _ := s.Create(context.Background(), newRequest("x"))
	c.Add(time.Hour)
	got, err := s.Decide(context.Background(), r.ID, Decision{Approve: true, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: r.PayloadSHA256})
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("%v", err)
	}
	if got, _ = s.Get(context.Background(), r.ID); got.State != Expired {
		t.Fatalf("state %s", got.State)
	}
}

func TestWaitReturnsExpiredInRealTime(t *testing.T) {
	e := newEnv(t)
	s := New(e.db.DB, Options{Audit: e.log, Expire: 300 * time.Millisecond, Remind: 100 * time.Millisecond})
	r, _ := s.Create(context.Background(), newRequest("x"))
	got, err := s.Wait(context.Background(), r.ID)
	if err != nil || got.State != Expired || got.Reminded == nil {
		t.Fatalf("%+v %v", got, err)
	}
}

// A pending request survives a restart, and a decision made by another
// process reaches a waiter through the database.
func TestRestartWithPendingRequest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r, err := New(e.db.DB, Options{Audit: e.log}).Create(ctx, newRequest("print('after restart')"))
	if err != nil {
		t.Fatal(err)
	}
	e.log.Close()
	e.db.Close()

	db2, log2 := e.open(t) // the restarted daemon
	s2 := New(db2.DB, Options{Audit: log2, Poll: 20 * time.Millisecond})
	pending, err := s2.List(ctx, Pending)
	if err != nil || len(pending) != 1 || pending[0].ID != r.ID || string(pending[0].Payload) != "print('after restart')" || pending[0].Verdict.Level != risk.High {
		t.Fatalf("%+v %v", pending, err)
	}
	done := make(chan Request, 1)
	go func() { got, _ := s2.Wait(ctx, r.ID); done <- got }()

	db3, log3 := e.open(t) // mai approvals approve, another process
	if _, err := New(db3.DB, Options{Audit: log3}).Decide(ctx, r.ID, Decision{Approve: false, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: r.PayloadSHA256, Reason: "not today"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.State != Denied || got.Reason != "not today" {
			t.Fatalf("%+v", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiter never saw the decision")
	}
}

func TestCodeRunApprover(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := New(e.db.DB, Options{Audit: e.log})
	req := sandbox.ApprovalRequest{JobID: "j9", Language: "python", Entry: "main.py", Source: []byte("import os\n"), Verdict: highVerdict}

	t.Run("--yes", func(t *testing.T) {
		a, err := CodeRun{Service: s, Requester: LocalOwner, Yes: true}.Approve(ctx, req)
		if err != nil || !a.Approved || a.By != "--yes" || a.ID == "" {
			t.Fatalf("%+v %v", a, err)
		}
		if got := strings.Join(e.actions(t, a.ID), " "); got != "approval.request approval.approve" {
			t.Errorf("audit: %s", got)
		}
	})
	t.Run("decided while waiting", func(t *testing.T) {
		a, err := CodeRun{Service: s, Requester: LocalOwner, Created: func(ctx context.Context, r Request) error {
			if !strings.Contains(r.Summary, "process.spawn") {
				t.Errorf("summary %q", r.Summary)
			}
			go s.Decide(ctx, r.ID, Decision{Approve: false, By: LocalOwner, Via: ViaTerminal, PayloadSHA256: r.PayloadSHA256})
			return nil
		}}.Approve(ctx, req)
		if err != nil || a.Approved || a.By != "local (terminal)" {
			t.Fatalf("%+v %v", a, err)
		}
	})
	t.Run("Ctrl-C withdraws", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		var id string
		_, err := CodeRun{Service: s, Requester: LocalOwner, Created: func(_ context.Context, r Request) error { id = r.ID; cancel(); return nil }}.Approve(cctx, req)
		if !errors.Is(err, ErrWithdrawn) || !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
		if got, _ := s.Get(ctx, id); got.State != Withdrawn {
			t.Fatalf("state %s", got.State)
		}
	})
	t.Run("no decision within the timeout", func(t *testing.T) {
		a, err := CodeRun{Service: s, Requester: LocalOwner, Timeout: 50 * time.Millisecond}.Approve(ctx, req)
		if !errors.Is(err, ErrWithdrawn) || a.ID == "" {
			t.Fatalf("%+v %v", a, err)
		}
		if got := strings.Join(e.actions(t, a.ID), " "); got != "approval.request approval.withdraw" {
			t.Errorf("audit: %s", got)
		}
	})
	t.Run("a failed PIN check withdraws", func(t *testing.T) {
		wrong := errors.New("wrong PIN")
		a, err := CodeRun{Service: s, Requester: LocalOwner, Yes: true, Created: func(context.Context, Request) error { return wrong }}.Approve(ctx, req)
		if !errors.Is(err, wrong) {
			t.Fatalf("%v", err)
		}
		if got, _ := s.Get(ctx, a.ID); got.State != Withdrawn {
			t.Fatalf("state %s", got.State)
		}
	})
}

func TestSupersede(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := New(e.db.DB, Options{Audit: e.log})
	old, _ := s.Create(ctx, newRequest("v1"))
	nr := newRequest("v2")
	nr.Supersedes = old.ID
	if _, err := s.Create(ctx, nr); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, old.ID); got.State != Superseded {
		t.Fatalf("state %s", got.State)
	}
}
