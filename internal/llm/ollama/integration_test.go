package ollama

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollamaServer is the real Ollama shared by the integration tests of this
// package; TestMain stops it.
var ollamaServer = &ollamatest.Shared{}

func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, ollamaServer)) }

// realClient returns a client of the shared real Ollama.
func realClient(t *testing.T) *Client {
	t.Helper()
	testenv.Short(t, "real Ollama: skipped with -short")
	return newClient(t, ollamaServer.Server(t).URL(), Options{})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func userSays(text string) []llm.Message {
	return []llm.Message{{Role: llm.RoleUser, Content: text}}
}

func TestRealVersionAndModels(t *testing.T) {
	c := realClient(t)
	ctx := ctxT(t)
	v, err := c.Version(ctx)
	if err != nil || "v"+v != ollamatest.Version {
		t.Errorf("version %q, %v; want %s", v, err, ollamatest.Version)
	}
	models, err := c.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]llm.Model{}
	for _, m := range models {
		byName[m.Name] = m
	}
	chat, embed, large := byName[ollamatest.ChatModel], byName[ollamatest.EmbedModel], byName[ollamatest.LargeChatModel]
	if chat.Family != "llama" || chat.Quantization != "F16" || chat.ParameterLabel == "" || chat.SizeBytes < 100<<10 ||
		chat.ContextLength != 4096 || chat.Parameters < 100_000 || chat.KVBytesPerToken != 512 ||
		chat.Capabilities != (llm.Capabilities{Chat: true, Tools: true}) {
		t.Errorf("chat model %+v", chat)
	}
	if embed.Capabilities != (llm.Capabilities{Embedding: true}) || embed.ContextLength != 512 {
		t.Errorf("embedding model %+v", embed)
	}
	if large.Parameters <= chat.Parameters || large.SizeBytes <= chat.SizeBytes || large.KVBytesPerToken <= chat.KVBytesPerToken {
		t.Errorf("large model %+v is not larger than %+v", large, chat)
	}
}

func TestRealLoadUnload(t *testing.T) {
	c := realClient(t)
	ctx := ctxT(t)
	for _, model := range []string{ollamatest.ChatModel, ollamatest.EmbedModel} {
		t.Run(model, func(t *testing.T) {
			// Earlier tests may have left it loaded, with other settings.
			if err := c.Unload(ctx, model); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			in, err := c.Load(ctx, model, llm.LoadOptions{ContextLength: 256, KeepAlive: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if in.Model != model || in.ID != model || in.ContextLength != 256 || in.SizeBytes <= 0 {
				t.Errorf("instance %+v", in)
			}
			if d := in.ExpiresAt.Sub(start); d < 59*time.Minute || d > 61*time.Minute {
				t.Errorf("expires in %s, want an hour", d)
			}
			// Loaded again, even under its short name and with another
			// context length: returned as it is, not reloaded.
			again, err := c.Load(ctx, strings.TrimSuffix(model, ":latest"), llm.LoadOptions{ContextLength: 512})
			if err != nil || !sameInstance(again, in) {
				t.Errorf("second load %+v, %v; want %+v", again, err, in)
			}
			loaded, err := c.Loaded(ctx)
			if err != nil || !slices.ContainsFunc(loaded, func(l llm.Instance) bool { return sameInstance(l, in) }) {
				t.Errorf("loaded %+v, %v; want it to contain %+v", loaded, err, in)
			}
			if err := c.Unload(ctx, model); err != nil {
				t.Fatal(err)
			}
			loaded, err = c.Loaded(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range loaded {
				if l.Model == model {
					t.Errorf("%s still loaded after Unload: %+v", model, loaded)
				}
			}
			if err := c.Unload(ctx, model); err != nil {
				t.Errorf("unloading what is not loaded: %v", err)
			}
		})
	}
	t.Run("forever", func(t *testing.T) {
		in, err := c.Load(ctx, ollamatest.ChatModel, llm.LoadOptions{KeepAlive: -1})
		if err != nil {
			t.Fatal(err)
		}
		if !in.ExpiresAt.IsZero() {
			t.Errorf("keep-alive forever shows expiry %v", in.ExpiresAt)
		}
		if err := c.Unload(ctx, in.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// sameInstance compares instances; Ollama restarts the keep-alive clock when
// the load request has finished, a moment after it answered, so the expiry
// may move by that moment.
func sameInstance(a, b llm.Instance) bool {
	d := a.ExpiresAt.Sub(b.ExpiresAt)
	a.ExpiresAt, b.ExpiresAt = time.Time{}, time.Time{}
	return a == b && d > -time.Second && d < time.Second
}

// chatText runs one chat to its end and returns the text events and stats.
func chatText(t *testing.T, c *Client, req llm.Request) ([]string, llm.Stats) {
	t.Helper()
	s, err := c.Chat(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := drain(s)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i, ev := range evs {
		switch {
		case ev.Kind == llm.EventText:
			texts = append(texts, ev.Text)
		case ev.Kind == llm.EventDone && i == len(evs)-1:
			return texts, ev.Stats
		default:
			t.Fatalf("unexpected event %d of %d: %+v", i, len(evs), ev)
		}
	}
	t.Fatal("no done event")
	return nil, llm.Stats{}
}

func TestRealChatStreams(t *testing.T) {
	c := realClient(t)
	zero, seed := 0.0, int64(7)
	req := llm.Request{Model: ollamatest.ChatModel, Messages: userSays("hello"),
		Options: llm.Options{MaxTokens: 24, Temperature: &zero, Seed: &seed}}
	texts, st := chatText(t, c, req)
	if len(texts) < 10 {
		t.Errorf("%d text deltas %q, want the answer in many pieces", len(texts), texts)
	}
	if st.Model != ollamatest.ChatModel && st.Model != strings.TrimSuffix(ollamatest.ChatModel, ":latest") {
		t.Errorf("stats model %q", st.Model)
	}
	if st.FinishReason != "length" || st.CompletionTokens != 24 || st.PromptTokens <= 0 ||
		st.EvalDuration <= 0 || st.TotalDuration <= 0 || st.TokensPerSecond <= 0 || st.TimeToFirstToken <= 0 {
		t.Errorf("stats %+v", st)
	}
	again, _ := chatText(t, c, req)
	if !reflect.DeepEqual(again, texts) {
		t.Errorf("same seed at temperature 0 answered %q, then %q", texts, again)
	}
	st2 := llm.Stats{}
	_, st2 = chatText(t, c, llm.Request{Model: ollamatest.StopModel, Messages: userSays("hi"), Options: llm.Options{MaxTokens: 500}})
	if st2.FinishReason != "stop" || st2.CompletionTokens >= 500 {
		t.Errorf("the stopping model: %+v", st2)
	}
}

// watchingProxy forwards TCP connections to target and closes closed when
// the client side of a connection goes away.
func watchingProxy(t *testing.T, target string) (url string, closed <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	var (
		once  sync.Once
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", strings.TrimPrefix(target, "http://"))
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go func() { io.Copy(in, out); in.Close() }()
			go func() {
				io.Copy(out, in) // returns when the client closes its connection
				once.Do(func() { close(ch) })
				out.Close()
			}()
		}
	}()
	return "http://" + l.Addr().String(), ch
}

// TestRealChatCancel cancels a long answer mid-stream: Next reports the
// cancellation and the client closes its connection to Ollama at once.
//
// Whether Ollama then stops generating is up to Ollama: 0.17.4 usually does,
// but when its write to the departed client fails before it notices the
// closed connection, the runner goes on to num_predict, and later requests
// for that model wait behind it. Mai should therefore always pass a sane
// token limit. This test uses a limit of a few seconds' worth of tokens on a
// busy two-core machine, so that the request after it never waits longer
// than its own deadline.
func TestRealChatCancel(t *testing.T) {
	srv := ollamaServer.Server(t)
	testenv.Short(t, "real Ollama: skipped with -short")
	url, closed := watchingProxy(t, srv.URL())
	c := newClient(t, url, Options{})
	ctx, cancel := context.WithCancel(ctxT(t))
	s, err := c.Chat(ctx, llm.Request{Model: ollamatest.ChatModel, Messages: userSays("go on"), Options: llm.Options{MaxTokens: 400}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 3 {
		if ev, err := s.Next(); err != nil || ev.Kind != llm.EventText {
			t.Fatalf("event %+v, %v", ev, err)
		}
	}
	cancel()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the client kept its connection to Ollama open after the cancel")
	}
	var nextErr error
	for range 5000 {
		if _, nextErr = s.Next(); nextErr != nil {
			break
		}
	}
	if !errors.Is(nextErr, context.Canceled) {
		t.Fatalf("after cancel: %v, want context.Canceled", nextErr)
	}
	// The server still answers chats through a fresh connection. The check
	// asks another model: under a loaded full test run, Ollama 0.17.4 was
	// seen to keep the cancelled model's runner busy for minutes (no log
	// line, the next request to that model queued behind it), which is
	// Ollama's scheduling, not the client's cancel that this test is about.
	s2, err := c.Chat(ctxT(t), llm.Request{Model: ollamatest.StopModel, Messages: userSays("hi"), Options: llm.Options{MaxTokens: 4}})
	if err != nil {
		t.Fatalf("chat after a cancelled one: %v\nollama serve log:\n%s", err, srv.Logs())
	}
	if _, _, err := llm.Collect(s2); err != nil {
		t.Fatalf("chat after a cancelled one: %v\nollama serve log:\n%s", err, srv.Logs())
	}
}

func TestRealEmbed(t *testing.T) {
	c := realClient(t)
	ctx := ctxT(t)
	vs, err := c.Embed(ctx, ollamatest.EmbedModel, []string{"hello", "world", "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || len(vs[0]) != 64 {
		t.Fatalf("got %d vectors of %d", len(vs), len(vs[0]))
	}
	if !slices.Equal(vs[0], vs[2]) || slices.Equal(vs[0], vs[1]) {
		t.Error("equal inputs gave different vectors, or different inputs equal ones")
	}
	_, err = c.Chat(ctx, llm.Request{Model: ollamatest.EmbedModel, Messages: userSays("hi")})
	if !errors.Is(err, llm.ErrBadResponse) || !strings.Contains(err.Error(), "does not support chat") {
		t.Errorf("chat with an embedding model: %v", err)
	}
}

func TestRealUnknownModel(t *testing.T) {
	c := realClient(t)
	ctx := ctxT(t)
	_, err := c.Chat(ctx, llm.Request{Model: "llama3.2:3b", Messages: userSays("hi")})
	var nf *llm.ModelNotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want a ModelNotFoundError", err)
	}
	slices.Sort(nf.Available)
	want := []string{ollamatest.ChatModel, ollamatest.LargeChatModel, ollamatest.StopModel, ollamatest.EmbedModel}
	slices.Sort(want)
	if !slices.Equal(nf.Available, want) {
		t.Errorf("available %v, want %v", nf.Available, want)
	}
	if _, err := c.Load(ctx, "llama3.2:3b", llm.LoadOptions{}); !errors.Is(err, llm.ErrModelNotFound) {
		t.Errorf("load: %v", err)
	}
}

func TestRealServerKilledMidStream(t *testing.T) {
	testenv.Short(t, "real Ollama: skipped with -short")
	srv := ollamatest.Start(t)
	c := newClient(t, srv.URL(), Options{})
	s, err := c.Chat(ctxT(t), llm.Request{Model: ollamatest.ChatModel, Messages: userSays("go on"), Options: llm.Options{MaxTokens: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(); err != nil || ev.Kind != llm.EventText {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	var nextErr error
	for range 1 << 16 {
		if _, nextErr = s.Next(); nextErr != nil {
			break
		}
	}
	if !errors.Is(nextErr, llm.ErrStreamTruncated) {
		t.Fatalf("after the kill: %v, want ErrStreamTruncated", nextErr)
	}
	_, err = c.Models(ctxT(t))
	want := "Ollama is not reachable at " + srv.URL()
	if !errors.Is(err, llm.ErrUnreachable) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("after the kill: %v, want %q", err, want)
	}
}
