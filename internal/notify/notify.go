// Package notify tells the owner what they should hear without asking: a
// component that went down or came back, an approval request about to
// expire, and the audit log's head once a day and on request, so that a
// copy of it lives off the machine. Notices wait in the database and are
// DMed at most once an interval, several in one message: nothing is lost
// while Discord is away, a restart sends nothing twice, and a flapping
// component does not flood the DMs.
package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/health"
)

// Sender delivers a notice to the owner (the Discord bot's outbox).
type Sender interface {
	// DM queues text for the owner; an error leaves the notice waiting.
	DM(ctx context.Context, text string) error
}

// Approvals lists approval requests (approval.Service).
type Approvals interface {
	List(ctx context.Context, state approval.State) ([]approval.Request, error)
}

// Options configures a Notifier. Each source is optional.
type Options struct {
	DB *sql.DB // migrated
	// Sender DMs the notices; nil writes them to the log only.
	Sender Sender
	Health *health.Registry // component changes
	// Critical names components whose failure at start is told too (a
	// broken audit chain); other components are told about only when they
	// go down after being up, since their state at start is in the log
	// and mai status, and a machine without Docker would hear it at every
	// start.
	Critical  map[string]bool
	Approvals Approvals                                     // expiry warnings
	Head      func(ctx context.Context) (audit.Head, error) // the audit head
	// Interval is the least time between two DMs; default 1m.
	Interval time.Duration
	// ExpiryWarning is how long before its expiry a pending request is
	// warned about; default 15m.
	ExpiryWarning time.Duration
	// HeadEvery is how often the audit head is sent; default 24h.
	HeadEvery time.Duration
	// Poll is how often approvals and the schedule are looked at; default 30s.
	Poll time.Duration
	Now  func() time.Time
	Log  zerolog.Logger
}

// Notice kinds, as stored.
const (
	KindHealth    = "health"
	KindExpiry    = "expiry"
	KindAuditHead = "audit_head"
)

// maxDM keeps one DM under Discord's 2000-character limit; what does not
// fit waits for the next one.
const maxDM = 1900

// Notifier queues and sends the owner's notices. Create it with New before
// the components it watches change, and Run it.
type Notifier struct {
	o Options

	mu       sync.Mutex
	changes  []health.Change // heard, not yet queued
	stopping bool            // the daemon stops: changes are its parts stopping
	wake     chan struct{}

	// Owned by Run's goroutine.
	bad     map[string]time.Time // components told down or degraded → since
	lastDM  time.Time
	failing bool // the last delivery failed (said once)
}

// New returns a notifier listening to o.Health from now on.
func New(o Options) *Notifier {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = 15 * time.Minute
	}
	if o.HeadEvery <= 0 {
		o.HeadEvery = 24 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := &Notifier{o: o, wake: make(chan struct{}, 1), bad: map[string]time.Time{}}
	if o.Health != nil {
		o.Health.Listen(func(c health.Change) {
			n.mu.Lock()
			if !n.stopping {
				n.changes = append(n.changes, c)
			}
			n.mu.Unlock()
			n.poke()
		})
		// Critical components already failing are told about too.
		for _, c := range o.Health.Snapshot() {
			if o.Critical[c.Name] && (c.State == health.Down || c.State == health.Degraded) {
				n.mu.Lock()
				n.changes = append(n.changes, health.Change{Component: c, From: health.Starting})
				n.mu.Unlock()
			}
		}
	}
	return n
}

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Stopping tells the notifier that the daemon is stopping: its parts
// going away are not news for the owner.
func (n *Notifier) Stopping() {
	n.mu.Lock()
	n.stopping = true
	n.mu.Unlock()
}

// Run queues and sends notices until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	for {
		wait := n.pass(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-n.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// pass queues what is due and sends what the interval allows; it returns
// how long to wait before the next pass.
func (n *Notifier) pass(ctx context.Context) time.Duration {
	n.mu.Lock()
	changes := n.changes
	n.changes = nil
	n.mu.Unlock()
	for _, c := range changes {
		n.heard(ctx, c)
	}
	if err := n.warnExpiring(ctx); err != nil && ctx.Err() == nil {
		n.o.Log.Warn().Err(err).Msg("notify: approval expiry warnings")
	}
	if err := n.headIfDue(ctx); err != nil && ctx.Err() == nil {
		n.o.Log.Warn().Err(err).Msg("notify: the audit head")
	}
	wait, err := n.deliver(ctx)
	switch {
	case err != nil && ctx.Err() == nil && !n.failing:
		n.o.Log.Warn().Err(err).Msg("notify: notices wait to be sent; tried again every MAI_NOTIFY_INTERVAL")
	case err != nil:
		n.o.Log.Debug().Err(err).Msg("notify: notices still wait")
	case n.failing:
		n.o.Log.Info().Msg("notify: the waiting notices went out")
	}
	n.failing = err != nil
	return min(wait, n.o.Poll)
}

// heard queues a notice for a component that went down or degraded after
// being up (or a critical one at any time), or came back after the owner
// was told it had gone; starting, off and an up that was never reported
// down say nothing.
func (n *Notifier) heard(ctx context.Context, c health.Change) {
	var text string
	switch c.State {
	case health.Down, health.Degraded:
		if _, told := n.bad[c.Name]; told || (c.From != health.Up && !n.o.Critical[c.Name]) {
			return
		}
		n.bad[c.Name] = c.Since
		text = fmt.Sprintf("⚠️ %s is %s: %s", c.Name, c.State, c.Detail)
		if c.Detail == "" {
			text = fmt.Sprintf("⚠️ %s is %s", c.Name, c.State)
		}
	case health.Up:
		since, told := n.bad[c.Name]
		if !told {
			return
		}
		delete(n.bad, c.Name)
		text = fmt.Sprintf("✅ %s is back after %s", c.Name, c.Since.Sub(since).Round(time.Second))
	default:
		return
	}
	if err := n.queue(ctx, KindHealth, text, ""); err != nil {
		n.o.Log.Error().Err(err).Str("part", c.Name).Msg("notify: cannot queue a component notice")
	}
}

// warnExpiring queues one warning for each pending request within
// ExpiryWarning of its expiry, once per request even across restarts.
// A request whose whole life is shorter than the warning's lead gets none:
// its own message already says when it expires.
func (n *Notifier) warnExpiring(ctx context.Context) error {
	if n.o.Approvals == nil {
		return nil
	}
	reqs, err := n.o.Approvals.List(ctx, approval.Pending)
	if err != nil {
		return err
	}
	now := n.o.Now()
	for _, r := range reqs {
		left := r.Expires.Sub(now)
		if left <= 0 || left > n.o.ExpiryWarning || r.Expires.Sub(r.Created) <= n.o.ExpiryWarning {
			continue
		}
		text := fmt.Sprintf("⏳ Approval request %s expires in %s (at %s) unless you answer: %s. React 👍 or 👎 on its message, or run 'mai approvals approve %s'.",
			r.ID, left.Round(time.Minute), r.Expires.Local().Format("15:04"), oneLine(r.Summary), r.ID)
		if err := n.queue(ctx, KindExpiry, text, "expiry:"+r.ID); err != nil {
			return err
		}
	}
	return nil
}

// headIfDue queues the audit head when none went out for HeadEvery.
func (n *Notifier) headIfDue(ctx context.Context) error {
	if n.o.Head == nil {
		return nil
	}
	var at string
	err := n.o.DB.QueryRowContext(ctx, `SELECT at FROM notify_sent WHERE key = ?`, KindAuditHead).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		// The first start sets the schedule: the first daily head goes a
		// day later (/audit sends one at once), not in the middle of
		// setting Mai up.
		_, err = n.o.DB.ExecContext(ctx, `INSERT INTO notify_sent (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
			KindAuditHead, n.o.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if last, perr := time.Parse(time.RFC3339Nano, at); perr == nil && n.o.Now().Sub(last) < n.o.HeadEvery {
		return nil
	}
	_, err = n.queueHead(ctx)
	return err
}

// AuditHead queues the audit log's head for the owner now (the /audit
// command) and returns it.
func (n *Notifier) AuditHead(ctx context.Context) (audit.Head, error) {
	h, err := n.queueHead(ctx)
	if err == nil {
		n.poke()
	}
	return h, err
}

func (n *Notifier) queueHead(ctx context.Context) (audit.Head, error) {
	if n.o.Head == nil {
		return audit.Head{}, errors.New("notify: no audit log")
	}
	h, err := n.o.Head(ctx)
	if err != nil {
		return audit.Head{}, err
	}
	if h.Seq == 0 { // nothing to keep yet; the first entry's head goes at the next pass
		return h, nil
	}
	text := fmt.Sprintf("🔗 Audit log head: %s\nKeep this message: 'mai audit verify --head %s' checks that the log was not rewritten since.", h, h)
	return h, n.queue(ctx, KindAuditHead, text, KindAuditHead)
}

// queue stores a notice; with once set, only when no notice under that key
// was queued before (the key is then recorded, or for the audit head moved
// to now), in the same transaction.
func (n *Notifier) queue(ctx context.Context, kind, text, once string) error {
	tx, err := n.o.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer tx.Rollback()
	now := n.o.Now().UTC().Format(time.RFC3339Nano)
	if once != "" {
		q := `INSERT INTO notify_sent (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`
		if kind == KindAuditHead {
			q = `INSERT INTO notify_sent (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at`
		}
		res, err := tx.ExecContext(ctx, q, once, now)
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notify_queue (kind, text, created) VALUES (?, ?, ?)`, kind, text, now); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	n.o.Log.Info().Str("kind", kind).Msg("notice for the owner queued")
	return nil
}

// deliver sends the waiting notices, oldest first, in one DM when the
// interval since the last allows; it returns how long until the next is
// allowed (Poll when nothing waits).
func (n *Notifier) deliver(ctx context.Context) (time.Duration, error) {
	rows, err := n.o.DB.QueryContext(ctx, `SELECT id, kind, text FROM notify_queue ORDER BY id`)
	if err != nil {
		return n.o.Poll, fmt.Errorf("notify: %w", err)
	}
	type notice struct {
		id         int64
		kind, text string
	}
	var waiting []notice
	for rows.Next() {
		var nt notice
		if err := rows.Scan(&nt.id, &nt.kind, &nt.text); err != nil {
			rows.Close()
			return n.o.Poll, fmt.Errorf("notify: %w", err)
		}
		waiting = append(waiting, nt)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(waiting) == 0 {
		return n.o.Poll, err
	}
	if n.o.Sender == nil {
		// No DMs: the log is where the owner reads them.
		for _, nt := range waiting {
			n.o.Log.Info().Str("kind", nt.kind).Msg("notice: " + nt.text)
		}
		return n.o.Poll, n.remove(ctx, waiting[len(waiting)-1].id)
	}
	now := n.o.Now()
	if next := n.lastDM.Add(n.o.Interval); !n.lastDM.IsZero() && now.Before(next) {
		return next.Sub(now), nil
	}
	var b strings.Builder
	last := waiting[0].id
	for i, nt := range waiting {
		text := nt.text
		text = truncate(text, maxDM)
		if i > 0 && b.Len()+1+len(text) > maxDM {
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(text)
		last = nt.id
	}
	if err := n.o.Sender.DM(ctx, b.String()); err != nil {
		n.lastDM = now // try again after an interval, not at once
		return n.o.Interval, err
	}
	n.lastDM = now
	return n.o.Interval, n.remove(ctx, last)
}

// remove drops the notices up to id, handed on.
func (n *Notifier) remove(ctx context.Context, upTo int64) error {
	if _, err := n.o.DB.ExecContext(context.WithoutCancel(ctx), `DELETE FROM notify_queue WHERE id <= ?`, upTo); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	return truncate(strings.Join(strings.Fields(s), " "), 200)
}

// truncate cuts s to at most n bytes on a character boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
