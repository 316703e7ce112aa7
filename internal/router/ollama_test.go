package router_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollamaContext is the context the tiny models are loaded with.
const ollamaContext = 2048

func ollamaClient(t testing.TB, srv *ollamatest.Server) *ollama.Client {
	t.Helper()
	c, err := ollama.New(srv.URL(), ollama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// measure loads each model alone and returns the memory Ollama reports for
// it, unloading it again.
func measure(t testing.TB, c *ollama.Client, names ...string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	for _, name := range names {
		if _, err := c.Load(ctx, name, llm.LoadOptions{ContextLength: ollamaContext}); err != nil {
			t.Fatalf("load %s: %v", name, err)
		}
		loaded, err := c.Loaded(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range loaded {
			if in.Model == name {
				out[name] = max(in.SizeBytes, in.VRAMBytes)
			}
		}
		if out[name] == 0 {
			t.Fatalf("%s is not listed as loaded: %+v", name, loaded)
		}
		if err := c.Unload(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// kvPerToken is the KV cache one token of context costs in each tiny model,
// from the shapes ollamatest gives them (16-bit cache, K and V, every
// block, every KV head, each head's dimension):
//   - ChatModel: 2 blocks, 4 KV heads, 64/4 = 16 dimensions: 2×2×4×16×2 = 512 bytes
//   - LargeChatModel: 4 blocks, 4 KV heads, 128/4 = 32 dimensions: 2×4×4×32×2 = 2048 bytes
var kvPerToken = map[string]int64{ollamatest.ChatModel: 512, ollamatest.LargeChatModel: 2048}

// onePool returns a memory pool that holds either tiny chat model but not
// both: room for the larger one — its weights as Ollama lists them plus
// its KV cache at ollamaContext, or what Ollama measured loaded when that is
// more — and half the smaller one beside it.
func onePool(t testing.TB, c *ollama.Client, sizes map[string]int64) (router.Pool, int64) {
	t.Helper()
	models, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const headroom = 1 << 20
	var biggest, smallest int64 = 0, 1 << 62
	for _, m := range models {
		s, ok := sizes[m.Name]
		if !ok {
			continue
		}
		b := max(s, m.SizeBytes+kvPerToken[m.Name]*ollamaContext)
		biggest, smallest = max(biggest, b), min(smallest, s)
	}
	pool := router.Pool{Name: "ram", Bytes: biggest + headroom + smallest/2, CPU: true}
	return pool, headroom
}

func TestRouterSwitchOnRealOllama(t *testing.T) {
	testenv.Short(t, "starts a real ollama serve")
	srv := ollamatest.Start(t)
	c := ollamaClient(t, srv)
	small, large := ollamatest.ChatModel, ollamatest.LargeChatModel
	sizes := measure(t, c, small, large)
	pool, headroom := onePool(t, c, sizes)
	t.Logf("measured %v; pool %d bytes", sizes, pool.Bytes)
	r, err := router.New(router.Config{
		Endpoints:     []router.Endpoint{{Backend: c, Pool: pool.Name}},
		Pools:         []router.Pool{pool},
		ContextLength: ollamaContext,
		Headroom:      headroom,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, model := range []string{small, large, small} {
		if err := r.Switch(ctx, "ollama:"+model); err != nil {
			t.Fatalf("switch to %s: %v", model, err)
		}
		loaded, err := c.Loaded(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(loaded) != 1 || loaded[0].Model != model {
			t.Fatalf("after switching to %s, loaded = %+v; the pool holds one model", model, loaded)
		}
		var chosen router.Choice
		s, err := r.ChatWith(ctx, func(ch router.Choice) (llm.Request, error) {
			chosen = ch
			return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Options: llm.Options{MaxTokens: 8, Seed: new(int64(1))}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		msg, stats, err := llm.Collect(s)
		if err != nil {
			t.Fatalf("chat on %s: %v", model, err)
		}
		if stats.Model != model || stats.CompletionTokens == 0 || msg.Content == "" {
			t.Errorf("answer from %s: %q, %+v", model, msg.Content, stats)
		}
		// The caller learns the model and the context Ollama holds it with
		// before the stream starts, and the chat keeps that context: no reload.
		if chosen.Ref() != "ollama:"+model || chosen.ContextLength != ollamaContext {
			t.Errorf("chosen = %s at %d tokens, want %s at %d", chosen.Ref(), chosen.ContextLength, model, ollamaContext)
		}
		if loaded, err := c.Loaded(ctx); err != nil || len(loaded) != 1 || loaded[0].ContextLength != ollamaContext {
			t.Errorf("after the chat: %+v, %v", loaded, err)
		}
	}
	var got []string
	for _, sw := range r.Switches() {
		got = append(got, string(sw.Cause)+" "+sw.To)
	}
	want := []string{"request ollama:" + small, "request ollama:" + large, "request ollama:" + small}
	if !slices.Equal(got, want) {
		t.Errorf("switches = %v, want %v", got, want)
	}
}

func TestRouterFailoverFromKilledOllama(t *testing.T) {
	testenv.Short(t, "starts a real ollama serve")
	srv := ollamatest.Start(t)
	lms := lmstudiotest.New(t, lmstudiotest.Model{Key: "qwen/qwen3-8b", SizeBytes: 5 << 30, ParamsString: "8B"})
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{
			{Backend: ollamaClient(t, srv), Pool: "ram"},
			{Backend: lmstudio.New(lmstudio.Config{Endpoint: lms.URL}), Pool: "lan"},
		},
		Pools:         []router.Pool{{Name: "ram", Bytes: 4 << 30, CPU: true}, {Name: "lan", Bytes: 24 << 30}},
		Preferences:   []router.Preference{{Backend: "ollama", Model: ollamatest.ChatModel}},
		ContextLength: ollamaContext,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "tell me everything"}}, Options: llm.Options{MaxTokens: 100000}}
	s, err := r.Chat(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, err := s.Next()
	if err != nil || ev.Kind != llm.EventText {
		t.Fatalf("first event from Ollama: %+v, %v", ev, err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	var notices []string
	var text strings.Builder
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after the kill: %v (notices %q)", err, notices)
		}
		switch ev.Kind {
		case llm.EventRestart:
			notices = append(notices, ev.Text)
			if !ev.Restart.Discarded || ev.Restart.To != "lmstudio:qwen/qwen3-8b" {
				t.Errorf("restart = %+v; the text before it is void", ev.Restart)
			}
			text.Reset()
		case llm.EventText:
			text.WriteString(ev.Text)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "lmstudio:qwen/qwen3-8b") || text.String() != "You said: tell me everything" {
		t.Fatalf("notices %q, text after the notice %q", notices, text.String())
	}

	// The next chat finds Ollama gone and moves to LM Studio for good.
	s, err = r.Chat(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "still there?"}}})
	if err != nil {
		t.Fatal(err)
	}
	msg, _, err := llm.Collect(s)
	if err != nil || msg.Content != "You said: still there?" {
		t.Fatalf("second chat: %q, %v", msg.Content, err)
	}
	sw := r.Switches()
	if last := sw[len(sw)-1]; last.Cause != router.CauseFailure || last.To != "lmstudio:qwen/qwen3-8b" || !strings.Contains(last.Reason, "not reachable") {
		t.Errorf("last switch = %+v", last)
	}
	if p := r.Plan(ctx); p.Endpoints[0].Reachable || !strings.Contains(p.Endpoints[0].Error, "Ollama") {
		t.Errorf("plan shows Ollama as %+v", p.Endpoints[0])
	}
}
