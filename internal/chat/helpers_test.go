package chat_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
)

const gib = 1 << 30

const persona = "You are Mai, the test persona."

// openMemory opens (or reopens) the database at path.
func openMemory(t testing.TB, path string) *memory.Store {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return memory.New(db, memory.Options{})
}

// newRouter routes to the given backends, all in one 24 GiB pool.
func newRouter(t testing.TB, prefs []string, bes ...llm.Backend) *router.Router {
	t.Helper()
	var eps []router.Endpoint
	kinds := map[string]bool{}
	for _, b := range bes {
		eps = append(eps, router.Endpoint{Backend: b, Pool: "gpu"})
		kinds[b.Name()] = true
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	r, err := router.New(router.Config{Endpoints: eps, Pools: []router.Pool{{Name: "gpu", Bytes: 24 * gib}}, Preferences: router.ParsePreferences(prefs, ks), ContextLength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeLMStudio is a fake LM Studio with two tool-capable models, the
// larger preferred.
func fakeLMStudio(t *testing.T) (*lmstudiotest.Server, *router.Router) {
	t.Helper()
	srv := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "big", SizeBytes: 4 * gib, ParamsString: "8B", ToolUse: true},
		lmstudiotest.Model{Key: "small", SizeBytes: 2 * gib, ParamsString: "3B", ToolUse: true},
	)
	return srv, newRouter(t, []string{"lmstudio:big", "lmstudio:small"}, lmstudio.New(lmstudio.Config{Endpoint: srv.URL}))
}

func newCore(t *testing.T, cfg chat.Config) *chat.Core {
	t.Helper()
	if cfg.Persona == nil {
		cfg.Persona = func() (string, error) { return persona, nil }
	}
	c, err := chat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// events records what a turn emitted.
type events struct {
	mu  sync.Mutex
	evs []chat.Event
	on  func(chat.Event)
}

func (e *events) emit(ev chat.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	on := e.on
	e.mu.Unlock()
	if on != nil {
		on(ev)
	}
}

func (e *events) kinds() []chat.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []chat.EventKind
	for _, ev := range e.evs {
		out = append(out, ev.Kind)
	}
	return out
}

func (e *events) text(kind chat.EventKind) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.evs {
		if ev.Kind == kind {
			b.WriteString(ev.Text)
			if ev.Tool != nil {
				b.WriteString(ev.Tool.Line + "\n")
			}
		}
	}
	return b.String()
}

func (e *events) done() *chat.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.evs {
		if ev.Kind == chat.EventDone {
			return ev.Stats
		}
	}
	return nil
}

func send(t *testing.T, c *chat.Core, user, text string) (*events, error) {
	t.Helper()
	ev := &events{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := c.Send(ctx, chat.Message{User: user, Text: text, MaxTokens: 16}, ev.emit)
	return ev, err
}

// stored returns the conversation's messages and their details.
func stored(t *testing.T, mem *memory.Store, c *chat.Core, user string) ([]memory.Message, map[int64]memory.TurnDetail) {
	t.Helper()
	ctx := context.Background()
	conv, err := c.Conversation(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mem.Messages(ctx, conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := mem.TurnDetails(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	return ms, ds
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "mai.db") }
