package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/store"
)

const owner = "100000000000000001"

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

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)} }

// env is a migrated database, the fake Discord and a real bot whose
// outbox sends to it.
type env struct {
	dir  string
	db   *store.DB
	fake *discordtest.Server
	bot  *discord.Bot
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	db, err := store.Open(context.Background(), filepath.Join(e.dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	e.fake = discordtest.New(discordtest.Options{})
	t.Cleanup(e.fake.Close)
	s, err := discord.NewSession(discordtest.Token, e.fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	e.bot = discord.New(s, db.DB, nil, discord.Options{Owner: owner, Log: zerolog.New(zerolog.NewTestWriter(t))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.bot.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the bot to connect", e.bot.Connected)
	return e
}

// dms returns the bot's messages in the owner's DM channel.
func (e *env) dms() []discordgo.Message { return e.fake.BotMessages(e.fake.DMChannel(owner)) }

func (e *env) waitDMs(t *testing.T, n int) []discordgo.Message {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d DMs", n), func() bool { return len(e.dms()) >= n })
	got := e.dms()
	if len(got) != n {
		t.Fatalf("%d DMs, want %d: %+v", len(got), n, got)
	}
	return got
}

func (e *env) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 20s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestComponentNoticesReachTheOwnersDMs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c := newClock()
	reg := health.New(nil)
	reg.Set("sandbox", health.Up, "", nil)
	reg.Set("router", health.Up, "", nil)
	n := New(Options{DB: e.db.DB, Sender: e.bot, Health: reg, Interval: time.Hour, Now: c.Now, Log: zerolog.New(zerolog.NewTestWriter(t))})

	reg.Set("chat", health.Starting, "", nil) // a start says nothing
	reg.Set("chat", health.Up, "", nil)
	reg.Set("memory", health.Starting, "", nil) // nor a part that cannot start: the log and mai status say it
	reg.Set("memory", health.Down, "no database", nil)
	reg.Set("sandbox", health.Down, "Docker does not answer", errors.New("dial unix: no such file"))
	n.pass(ctx)
	got := e.waitDMs(t, 1)
	if got[0].Content != "⚠️ sandbox is down: Docker does not answer" {
		t.Fatalf("first DM = %q", got[0].Content)
	}

	// Within the interval: a recovery and a new failure wait, together.
	reg.Set("sandbox", health.Up, "", nil)
	reg.Set("router", health.Degraded, "1 of 2 backends reachable", nil)
	n.pass(ctx)
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`); q != 2 {
		t.Fatalf("%d notices waiting within the interval, want 2", q)
	}
	c.Add(time.Hour)
	n.pass(ctx)
	got = e.waitDMs(t, 2)
	lines := strings.Split(got[1].Content, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "✅ sandbox is back after ") || lines[1] != "⚠️ router is degraded: 1 of 2 backends reachable" {
		t.Fatalf("second DM = %q", got[1].Content)
	}
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`); q != 0 {
		t.Fatalf("%d notices left after they were sent", q)
	}
}

func TestNoticeWaitsWhileDiscordIsDown(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c := newClock()
	reg := health.New(nil)
	n := New(Options{DB: e.db.DB, Sender: e.bot, Health: reg, Interval: time.Minute, Now: c.Now, Log: zerolog.New(zerolog.NewTestWriter(t))})
	reg.Set("discord", health.Up, "", nil)
	e.fake.SetDown(true) // the bot does not know the owner's DM channel yet
	reg.Set("discord", health.Down, "Discord does not answer", nil)
	n.pass(ctx)
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`); q != 1 {
		t.Fatalf("%d notices waiting while Discord is down, want 1", q)
	}
	e.fake.SetDown(false)
	reg.Set("discord", health.Up, "", nil)
	c.Add(time.Minute)
	n.pass(ctx)
	got := e.waitDMs(t, 1)
	if !strings.HasPrefix(got[0].Content, "⚠️ discord is down: Discord does not answer\n✅ discord is back after ") {
		t.Fatalf("DM = %q", got[0].Content)
	}
}

func TestExpiryWarnedOnceAcrossRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c := newClock()
	alog, err := audit.Open(ctx, e.db.DB, audit.Options{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	svc := approval.New(e.db.DB, approval.Options{Audit: alog, Expire: time.Hour, Remind: time.Hour, Now: c.Now})
	req, err := svc.Create(ctx, approval.NewRequest{Kind: approval.KindCodeRun, Summary: "run python code (HIGH)", Payload: []byte("print(1)"), Requester: "mai"})
	if err != nil {
		t.Fatal(err)
	}
	short := approval.New(e.db.DB, approval.Options{Audit: alog, Expire: 10 * time.Minute, Now: c.Now})
	if _, err := short.Create(ctx, approval.NewRequest{Kind: approval.KindCodeRun, Summary: "short-lived", Payload: []byte("x"), Requester: "mai"}); err != nil {
		t.Fatal(err)
	}
	opts := Options{DB: e.db.DB, Sender: e.bot, Approvals: svc, ExpiryWarning: 15 * time.Minute, Interval: time.Minute, Now: c.Now, Log: zerolog.New(zerolog.NewTestWriter(t))}

	n := New(opts)
	n.pass(ctx) // the short-lived request is within the lead from its start: its own message says when it expires
	c.Add(30 * time.Minute)
	n.pass(ctx)
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`) + e.count(t, `SELECT COUNT(*) FROM discord_outbox`); q != 0 {
		t.Fatalf("a warning 30 minutes before expiry (lead 15): %d notices", q)
	}
	c.Add(20 * time.Minute) // 10 minutes left
	n.pass(ctx)
	got := e.waitDMs(t, 1)
	want := fmt.Sprintf("⏳ Approval request %s expires in 10m0s (at %s) unless you answer: run python code (HIGH).", req.ID, req.Expires.Local().Format("15:04"))
	if !strings.HasPrefix(got[0].Content, want) || !strings.Contains(got[0].Content, "mai approvals approve "+req.ID) {
		t.Fatalf("warning = %q, want it to start %q", got[0].Content, want)
	}

	n.pass(ctx)   // the same process
	n = New(opts) // a restart
	c.Add(2 * time.Minute)
	n.pass(ctx)
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`) + e.count(t, `SELECT COUNT(*) FROM discord_outbox`); q != 1 {
		t.Fatalf("%d notices after a restart, want the one warning", q)
	}
}

func TestAuditHeadDailyAndOnRequest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	c := newClock()
	alog, err := audit.Open(ctx, e.db.DB, audit.Options{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	for i := range 3 {
		if _, err := alog.Append(ctx, audit.Record{Actor: "mai", Action: "test.step", Subject: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := audit.List(ctx, e.db.DB, audit.Filter{})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit list: %d, %v", len(entries), err)
	}
	head := fmt.Sprintf("3:%s", entries[2].Hash)
	opts := Options{DB: e.db.DB, Sender: e.bot, Head: func(ctx context.Context) (audit.Head, error) { return audit.LatestHead(ctx, e.db.DB) },
		Interval: time.Minute, Now: c.Now, Log: zerolog.New(zerolog.NewTestWriter(t))}
	n := New(opts)
	n.pass(ctx) // the first start sets the schedule
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`) + e.count(t, `SELECT COUNT(*) FROM discord_outbox`); q != 0 {
		t.Fatalf("%d notices at the first start, want the first head a day later", q)
	}
	c.Add(24 * time.Hour)
	n.pass(ctx)
	got := e.waitDMs(t, 1)
	if !strings.Contains(got[0].Content, "Audit log head: "+head) || !strings.Contains(got[0].Content, "mai audit verify --head "+head) {
		t.Fatalf("head DM = %q, want %s", got[0].Content, head)
	}

	n = New(opts) // a restart the same day sends no second one
	c.Add(time.Hour)
	n.pass(ctx)
	if q := e.count(t, `SELECT COUNT(*) FROM notify_queue`) + e.count(t, `SELECT COUNT(*) FROM discord_outbox`); q != 1 {
		t.Fatalf("%d notices after a restart the same day, want 1", q)
	}
	if h, err := n.AuditHead(ctx); err != nil || h.String() != head { // /audit
		t.Fatalf("AuditHead = %v, %v", h, err)
	}
	n.pass(ctx)
	e.waitDMs(t, 2)
	c.Add(24 * time.Hour)
	n.pass(ctx)
	e.waitDMs(t, 3)
}

func TestWithoutDiscordNoticesGoToTheLog(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	reg := health.New(nil)
	reg.Set("audit", health.Starting, "", nil)
	reg.Set("audit", health.Degraded, "THE AUDIT LOG IS BROKEN at entry 3", nil) // critical: told even at start
	n := New(Options{DB: db.DB, Health: reg, Critical: map[string]bool{"audit": true}, Log: zerolog.New(&buf)})
	reg.Set("sandbox", health.Up, "", nil)
	reg.Set("sandbox", health.Down, "Docker does not answer", nil)
	n.pass(ctx)
	if !strings.Contains(buf.String(), "notice: ⚠️ sandbox is down: Docker does not answer") || !strings.Contains(buf.String(), "notice: ⚠️ audit is degraded: THE AUDIT LOG IS BROKEN") {
		t.Fatalf("log = %s", buf.String())
	}
	var q int
	db.QueryRow(`SELECT COUNT(*) FROM notify_queue`).Scan(&q)
	if q != 0 {
		t.Fatalf("%d notices kept without a sender", q)
	}
}
