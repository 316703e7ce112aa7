package discord

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/store"
)

const ownerID = "100000000000000001"

func newFake(t testing.TB, o discordtest.Options) *discordtest.Server {
	t.Helper()
	fake := discordtest.New(o)
	t.Cleanup(fake.Close)
	return fake
}

// openSession connects a real discordgo session to fake.
func openSession(t testing.TB, fake *discordtest.Server) *discordgo.Session {
	t.Helper()
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	if err := s.Open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openDB(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testLog(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// runOutbox starts an outbox over db sending with s, stopped at cleanup.
func runOutbox(t testing.TB, db *store.DB, s *discordgo.Session) *Outbox {
	t.Helper()
	o := NewOutbox(db.DB, s, func() string { return s.State.User.ID }, testLog(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

func flush(t testing.TB, o *Outbox, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := o.Flush(ctx); err != nil {
		t.Fatalf("outbox not flushed within %s: %v", within, err)
	}
}

func contents(msgs []discordgo.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Content)
	}
	return out
}

func countRoute(calls []discordtest.Call, route string) int {
	n := 0
	for _, c := range calls {
		if c.Route == route {
			n++
		}
	}
	return n
}

// sharedOllama is the real Ollama the integration tests share, started on
// first use and stopped after the last test.
var sharedOllama = &ollamatest.Shared{}
