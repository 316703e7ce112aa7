package lmstudio_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

var testModels = []lmstudiotest.Model{
	{Key: "qwen/qwen3-8b", Publisher: "qwen", DisplayName: "Qwen3 8B", Architecture: "qwen3", Quantization: "Q4_K_M", BitsPerWeight: 4, SizeBytes: 5_000_000_000, ParamsString: "8B", MaxContextLength: 32768, ToolUse: true},
	{Key: "google/gemma-3-4b", Publisher: "google", Architecture: "gemma3", Quantization: "Q4_0", SizeBytes: 3_000_000_000, ParamsString: "4B", MaxContextLength: 131072, Vision: true},
	{Key: "text-embedding-nomic-embed-text-v1.5", Type: "embedding", Publisher: "nomic-ai", Quantization: "F16", BitsPerWeight: 16, SizeBytes: 274_290_560, MaxContextLength: 2048},
}

func newClient(t *testing.T) (*lmstudiotest.Server, *lmstudio.Client) {
	t.Helper()
	srv := lmstudiotest.New(t, testModels...)
	return srv, lmstudio.New(lmstudio.Config{Endpoint: srv.URL})
}

func chatReq(model, prompt string) llm.Request {
	return llm.Request{Model: model, Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}}}
}

func TestModels(t *testing.T) {
	for _, v0 := range []bool{false, true} {
		name := "v1"
		if v0 {
			name = "v0"
		}
		t.Run(name, func(t *testing.T) {
			srv, c := newClient(t)
			srv.SetV0(v0)
			srv.Preload("qwen/qwen3-8b", 8192)
			models, err := c.Models(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(models) != 3 {
				t.Fatalf("got %d models, want 3: %+v", len(models), models)
			}
			q, g, e := models[0], models[1], models[2]
			if q.Name != "qwen/qwen3-8b" || q.Family != "qwen3" || q.Quantization != "Q4_K_M" || q.ContextLength != 32768 ||
				!q.Capabilities.Chat || !q.Capabilities.Tools || q.Capabilities.Embedding || q.Capabilities.Vision {
				t.Errorf("qwen = %+v", q)
			}
			if !g.Capabilities.Vision || g.Capabilities.Tools {
				t.Errorf("gemma capabilities = %+v", g.Capabilities)
			}
			if !e.Capabilities.Embedding || e.Capabilities.Chat {
				t.Errorf("embedding capabilities = %+v", e.Capabilities)
			}
			if !v0 && (q.Parameters != 8e9 || q.ParameterLabel != "8B" || q.SizeBytes != 5e9) {
				t.Errorf("v1 size fields = %+v", q)
			}
			loaded, err := c.Loaded(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(loaded) != 1 || loaded[0].Model != "qwen/qwen3-8b" || loaded[0].ID != "qwen/qwen3-8b" {
				t.Fatalf("loaded = %+v", loaded)
			}
			if !v0 && loaded[0].ContextLength != 8192 {
				t.Errorf("context length = %d, want 8192", loaded[0].ContextLength)
			}
		})
	}
}

func TestLoadNeverLoadsTwice(t *testing.T) {
	srv, c := newClient(t)
	srv.SetLoadDelay(20 * time.Millisecond)
	var wg sync.WaitGroup
	ids := make([]string, 4)
	errs := make([]error, 4)
	for i := range ids {
		wg.Go(func() {
			in, err := c.Load(t.Context(), "qwen/qwen3-8b", llm.LoadOptions{ContextLength: 8192})
			ids[i], errs[i] = in.ID, err
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != "qwen/qwen3-8b" {
			t.Errorf("load %d = %q, %v", i, ids[i], errs[i])
		}
	}
	if srv.Loads() != 1 {
		t.Errorf("server loaded %d instances, want 1", srv.Loads())
	}
	if in := srv.Instances(); len(in) != 1 || in[0].ContextLength != 8192 {
		t.Errorf("instances = %+v", in)
	}
	// A model the owner loaded in the app is reused as well.
	srv.Preload("google/gemma-3-4b", 0)
	in, err := c.Load(t.Context(), "google/gemma-3-4b", llm.LoadOptions{})
	if err != nil || in.ID != "google/gemma-3-4b" || srv.Loads() != 2 {
		t.Errorf("load of preloaded = %+v, %v; loads %d", in, err, srv.Loads())
	}
}

func TestLoadUnknownModel(t *testing.T) {
	_, c := newClient(t)
	_, err := c.Load(t.Context(), "nope", llm.LoadOptions{})
	var nf *llm.ModelNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, llm.ErrModelNotFound) {
		t.Fatalf("err = %v, want ModelNotFoundError", err)
	}
	if len(nf.Available) != 3 || !strings.Contains(err.Error(), "qwen/qwen3-8b") {
		t.Errorf("error does not list the models: %v", err)
	}
}

func TestUnload(t *testing.T) {
	srv, c := newClient(t)
	srv.Preload("qwen/qwen3-8b", 0)
	second := srv.Preload("qwen/qwen3-8b", 0) // the owner loaded it twice in the app
	srv.Preload("google/gemma-3-4b", 0)
	if second != "qwen/qwen3-8b:2" {
		t.Fatalf("second instance id = %q", second)
	}
	if err := c.Unload(t.Context(), second); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Instances()); n != 2 {
		t.Fatalf("after unloading one instance: %d left, want 2", n)
	}
	if err := c.Unload(t.Context(), "google/gemma-3-4b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Unload(t.Context(), "not-loaded"); err != nil {
		t.Errorf("unloading something not loaded: %v", err)
	}
	if in := srv.Instances(); len(in) != 1 || in[0].ID != "qwen/qwen3-8b" || srv.Unloads() != 2 {
		t.Errorf("instances = %+v, unloads = %d", in, srv.Unloads())
	}
}

func TestChatStreams(t *testing.T) {
	srv, c := newClient(t)
	srv.SetChunkDelay(time.Millisecond)
	srv.Script(lmstudiotest.Reply{Chunks: []string{"Hel", "lo", " there"}, Comments: true})
	req := llm.Request{
		Model: "qwen/qwen3-8b",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "Be brief."},
			{Role: llm.RoleUser, Content: "time?"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Name: "get_time", Arguments: json.RawMessage(`{"tz":"UTC"}`)}}},
			{Role: llm.RoleTool, Content: "12:00", ToolCallID: "c1"},
		},
		Tools:     []llm.Tool{{Name: "get_time", Description: "current time", Parameters: json.RawMessage(`{"type":"object","properties":{"tz":{"type":"string"}}}`)}},
		Options:   llm.Options{MaxTokens: 50, Temperature: new(0.0), Seed: new(int64(7)), Stop: []string{"\n\n"}},
		KeepAlive: 90 * time.Second,
	}
	s, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var deltas []string
	var done *llm.Stats
	for _, ev := range readAll(t, s) {
		switch ev.Kind {
		case llm.EventText:
			deltas = append(deltas, ev.Text)
		case llm.EventDone:
			done = &ev.Stats
		}
	}
	if strings.Join(deltas, "|") != "Hel|lo| there" {
		t.Errorf("deltas = %q", deltas)
	}
	if done == nil || done.FinishReason != "stop" || done.CompletionTokens != 3 || done.PromptTokens == 0 || done.Model != "qwen/qwen3-8b" ||
		done.TimeToFirstToken <= 0 || done.TotalDuration < done.TimeToFirstToken || done.TokensPerSecond <= 0 {
		t.Errorf("done = %+v", done)
	}
	got := srv.ChatRequests()[0]
	if len(got.Messages) != 4 || got.Messages[2].ToolCalls[0].Function.Arguments != `{"tz":"UTC"}` || got.Messages[3].ToolCallID != "c1" {
		t.Errorf("messages sent = %+v", got.Messages)
	}
	if len(got.Tools) != 1 || got.Tools[0].Type != "function" || got.Tools[0].Function.Name != "get_time" {
		t.Errorf("tools sent = %+v", got.Tools)
	}
	if !got.Stream || got.StreamOptions == nil || !got.StreamOptions.IncludeUsage || got.MaxTokens != 50 ||
		got.Temperature == nil || *got.Temperature != 0 || got.Seed == nil || *got.Seed != 7 || got.TopP != nil || got.TTL != 90 {
		t.Errorf("options sent = %+v", got)
	}
	// Chatting with a model that was not loaded loaded it just in time.
	if in := srv.Instances(); len(in) != 1 || in[0].TTL != 90 || srv.Loads() != 1 {
		t.Errorf("JIT load: instances %+v, loads %d", in, srv.Loads())
	}
}

func TestChatToolCalls(t *testing.T) {
	srv, c := newClient(t)
	srv.Script(lmstudiotest.Reply{
		Chunks:    []string{"Let me check. "},
		ToolCalls: []lmstudiotest.ToolCall{{ID: "365174485", Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`}, {ID: "2", Name: "noop", Arguments: `{}`}},
	})
	s, err := c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "time?"))
	if err != nil {
		t.Fatal(err)
	}
	msg, stats, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content != "Let me check. " || stats.FinishReason != "tool_calls" || len(msg.ToolCalls) != 2 {
		t.Fatalf("msg = %+v, stats = %+v", msg, stats)
	}
	if tc := msg.ToolCalls[0]; tc.ID != "365174485" || tc.Name != "get_time" || string(tc.Arguments) != `{"tz":"Europe/Paris"}` {
		t.Errorf("tool call = %+v (%s)", tc, tc.Arguments)
	}
}

func TestChatContextLengthLoadsFirst(t *testing.T) {
	srv, c := newClient(t)
	req := chatReq("qwen/qwen3-8b", "hi")
	req.Options.ContextLength = 16384
	for range 2 {
		s, err := c.Chat(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := llm.Collect(s); err != nil {
			t.Fatal(err)
		}
	}
	if in := srv.Instances(); len(in) != 1 || in[0].ContextLength != 16384 || srv.Loads() != 1 {
		t.Errorf("instances = %+v, loads = %d", in, srv.Loads())
	}
}

func TestChatFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*lmstudiotest.Server)
		model string
		// atStart: Chat itself fails; otherwise the stream does.
		atStart bool
		want    error
		says    string
	}{
		{"unknown model", nil, "nope", true, llm.ErrModelNotFound, "available: qwen/qwen3-8b"},
		{"embedding model", nil, "text-embedding-nomic-embed-text-v1.5", true, llm.ErrBadResponse, "HTTP 400"},
		{"server error", func(s *lmstudiotest.Server) { s.Script(lmstudiotest.Reply{Status: 500, Error: "out of memory"}) }, "qwen/qwen3-8b", true, llm.ErrBadResponse, "out of memory"},
		{"html", func(s *lmstudiotest.Server) { s.FailNext(502, "text/html", "<html>Bad Gateway</html>") }, "qwen/qwen3-8b", true, llm.ErrBadResponse, "HTML"},
		{"json instead of a stream", func(s *lmstudiotest.Server) { s.FailNext(200, "application/json", `{"id":"x"}`) }, "qwen/qwen3-8b", true, llm.ErrBadResponse, "without streaming"},
		{"cut mid-answer", func(s *lmstudiotest.Server) {
			s.Script(lmstudiotest.Reply{Chunks: []string{"a", "b", "c"}, CutAfter: 2})
		}, "qwen/qwen3-8b", false, llm.ErrStreamTruncated, "before finishing"},
		{"connection broken mid-answer", func(s *lmstudiotest.Server) {
			s.Script(lmstudiotest.Reply{Chunks: []string{"a", "b", "c"}, CutAfter: 1, Abort: true})
		}, "qwen/qwen3-8b", false, llm.ErrStreamTruncated, "LM Studio at"},
		{"error mid-stream", func(s *lmstudiotest.Server) {
			s.Script(lmstudiotest.Reply{Chunks: []string{"a"}, StreamError: "GPU lost"})
		}, "qwen/qwen3-8b", false, llm.ErrBadResponse, "GPU lost"},
		{"token required", func(s *lmstudiotest.Server) { s.RequireToken("secret") }, "qwen/qwen3-8b", true, llm.ErrUnauthorized, "requires an API token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newClient(t)
			if tt.setup != nil {
				tt.setup(srv)
			}
			s, err := c.Chat(t.Context(), chatReq(tt.model, "hi"))
			if !tt.atStart {
				if err != nil {
					t.Fatalf("Chat: %v", err)
				}
				_, _, err = llm.Collect(s)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			// Which variable to set is the front ends' to say; a Discord
			// user reads this error too.
			if strings.Contains(err.Error(), "LMSTUDIO_") {
				t.Errorf("error %q names a configuration variable", err)
			}
		})
	}
}

func TestToken(t *testing.T) {
	srv := lmstudiotest.New(t, testModels...)
	srv.RequireToken("secret")
	c := lmstudio.New(lmstudio.Config{Endpoint: srv.URL, Token: "secret"})
	if _, err := c.Models(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, err := c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := llm.Collect(s); err != nil {
		t.Fatal(err)
	}
	bad := lmstudio.New(lmstudio.Config{Endpoint: srv.URL, Token: "wrong"})
	if _, err := bad.Models(t.Context()); !errors.Is(err, llm.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}
}

func TestManagementFailures(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        error
		says        string
	}{
		{"500", 500, "application/json", `{"error":{"type":"internal_error","message":"disk full"}}`, llm.ErrBadResponse, "disk full"},
		{"html", 200, "text/html", "<!doctype html><title>router</title>", llm.ErrBadResponse, "HTML"},
		{"truncated json", 200, "application/json", `{"models":[{"type":"llm","key":"a"`, llm.ErrBadResponse, "unreadable"},
		{"plain text error", 503, "text/plain", "busy", llm.ErrBadResponse, "busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newClient(t)
			srv.FailNext(tt.status, tt.contentType, tt.body)
			_, err := c.Models(t.Context())
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), "LM Studio at "+srv.URL) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close() // nothing listens there now
	c := lmstudio.New(lmstudio.Config{Endpoint: addr})
	_, err = c.Models(t.Context())
	want := "LM Studio is not reachable at " + addr + " — is the server running (lms server start)?"
	if !errors.Is(err, llm.ErrUnreachable) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Models: %v", err)
	}
	if _, err := c.Chat(t.Context(), chatReq("m", "hi")); !errors.Is(err, llm.ErrUnreachable) {
		t.Errorf("Chat: %v", err)
	}
}

func TestCancelStopsStream(t *testing.T) {
	srv, c := newClient(t)
	srv.SetChunkDelay(20 * time.Millisecond)
	srv.Script(lmstudiotest.Reply{Chunks: strings.Split(strings.Repeat("x", 500), "")})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := c.Chat(ctx, chatReq("qwen/qwen3-8b", "long"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(); err != nil || ev.Kind != llm.EventText {
		t.Fatalf("first event = %+v, %v", ev, err)
	}
	cancel()
	for {
		_, err = s.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
	waitFor(t, func() bool { return srv.Cancelled() == 1 }, "the server to see the request end")
}

func TestCloseEndsRequest(t *testing.T) {
	srv, c := newClient(t)
	srv.SetChunkDelay(20 * time.Millisecond)
	srv.Script(lmstudiotest.Reply{Chunks: strings.Split(strings.Repeat("x", 500), "")})
	s, err := c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "long"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, err := s.Next(); err == nil {
		t.Error("Next after Close succeeded")
	}
	waitFor(t, func() bool { return srv.Cancelled() == 1 }, "the server to see the request end")
}

func TestStalledStream(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*lmstudiotest.Server)
	}{
		{"before the headers", func(s *lmstudiotest.Server) { s.Script(lmstudiotest.Reply{Delay: time.Minute}) }},
		{"mid-answer", func(s *lmstudiotest.Server) { s.SetChunkDelay(time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := lmstudiotest.New(t, testModels...)
			c := lmstudio.New(lmstudio.Config{Endpoint: srv.URL, IdleTimeout: 50 * time.Millisecond})
			tt.setup(srv)
			s, err := c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "hi"))
			if err == nil {
				_, _, err = llm.Collect(s)
			}
			if !errors.Is(err, llm.ErrStreamTruncated) || !strings.Contains(err.Error(), "sent nothing for 50ms") {
				t.Errorf("err = %v", err)
			}
			waitFor(t, func() bool { return srv.Cancelled() == 1 }, "the server to see the request end")
		})
	}
}

// A caller that pauses between events longer than the idle timeout is not a
// stalled server: the timer runs only while waiting for bytes.
func TestSlowConsumerIsNotAStall(t *testing.T) {
	srv := lmstudiotest.New(t, testModels...)
	c := lmstudio.New(lmstudio.Config{Endpoint: srv.URL, IdleTimeout: 50 * time.Millisecond})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"one ", "two ", "three"}})
	s, err := c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var text strings.Builder
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", text.String(), err)
		}
		text.WriteString(ev.Text)
		time.Sleep(150 * time.Millisecond) // three idle timeouts
	}
	if text.String() != "one two three" {
		t.Errorf("text = %q", text.String())
	}
}

func TestEmbed(t *testing.T) {
	srv, c := newClient(t)
	const model = "text-embedding-nomic-embed-text-v1.5"
	vecs, err := c.Embed(t.Context(), model, []string{"a cat", "a dog"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 2 || len(vecs[0]) != 8 {
		t.Fatalf("vecs = %v", vecs)
	}
	for i, text := range []string{"a cat", "a dog"} {
		want := lmstudiotest.Vector(text)
		for j := range want {
			if vecs[i][j] != want[j] {
				t.Fatalf("vector %d = %v, want %v", i, vecs[i], want)
			}
		}
	}
	if srv.Loads() != 1 {
		t.Errorf("embedding model JIT loads = %d, want 1", srv.Loads())
	}
	if _, err := c.Embed(t.Context(), "nope", []string{"x"}); !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("unknown embedding model: %v", err)
	}
}

func TestV0LoadAndUnload(t *testing.T) {
	srv, c := newClient(t)
	srv.SetV0(true)
	in, err := c.Load(t.Context(), "qwen/qwen3-8b", llm.LoadOptions{KeepAlive: time.Minute})
	if err != nil || in.ID != "qwen/qwen3-8b" || srv.Loads() != 1 {
		t.Fatalf("v0 load = %+v, %v, loads %d", in, err, srv.Loads())
	}
	if _, err := c.Load(t.Context(), "qwen/qwen3-8b", llm.LoadOptions{}); err != nil || srv.Loads() != 1 {
		t.Errorf("second v0 load: %v, loads %d", err, srv.Loads())
	}
	err = c.Unload(t.Context(), "qwen/qwen3-8b")
	if err == nil || !strings.Contains(err.Error(), "lms unload") {
		t.Errorf("v0 unload: %v", err)
	}
}

func TestParseParams(t *testing.T) {
	for in, want := range map[string]int64{
		"7B": 7e9, "1.5B": 1.5e9, "270M": 270e6, "26B-A4B": 26e9, "8x7B": 56e9, "": 0, "B": 0, "seven": 0, "-3B": 0,
	} {
		if got := lmstudio.ParseParams(in); got != want {
			t.Errorf("ParseParams(%q) = %d, want %d", in, got, want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A reasoning model's reasoning_content deltas arrive as thinking events,
// apart from the answer's text, and Collect leaves them out.
func TestChatStreamsThinking(t *testing.T) {
	srv, c := newClient(t)
	srv.Script(lmstudiotest.Reply{Reasoning: []string{"The user", " greets me."}, Chunks: []string{"Hi", "!"}})
	s, err := c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var text, thought strings.Builder
	for _, ev := range readAll(t, s) {
		kinds = append(kinds, ev.Kind.String())
		switch ev.Kind {
		case llm.EventThinking:
			thought.WriteString(ev.Text)
		case llm.EventText:
			text.WriteString(ev.Text)
		}
	}
	if got := strings.Join(kinds, " "); got != "thinking thinking text text done" {
		t.Fatalf("events %s", got)
	}
	if text.String() != "Hi!" || thought.String() != "The user greets me." {
		t.Errorf("text %q, thinking %q", text.String(), thought.String())
	}
	srv.Script(lmstudiotest.Reply{Reasoning: []string{"hmm"}, Chunks: []string{"Yes."}})
	s, err = c.Chat(t.Context(), chatReq("qwen/qwen3-8b", "again"))
	if err != nil {
		t.Fatal(err)
	}
	if msg, _, err := llm.Collect(s); err != nil || msg.Content != "Yes." {
		t.Errorf("collected %q, %v", msg.Content, err)
	}
}

// readAll reads s to its end, failing the test on an error, and closes it.
func readAll(t *testing.T, s llm.Stream) []llm.Event {
	t.Helper()
	defer s.Close()
	var evs []llm.Event
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return evs
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
}
