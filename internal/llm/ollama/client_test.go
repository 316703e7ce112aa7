package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// fakeOllama serves canned answers per path, as recorded from Ollama 0.17.4.
type route struct {
	status      int
	contentType string
	body        string
}

func fakeOllama(t *testing.T, routes map[string]route) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rt, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "404 page not found")
			return
		}
		ct := rt.contentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		if rt.status != 0 {
			w.WriteHeader(rt.status)
		}
		io.WriteString(w, rt.body)
	}))
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL, Options{})
}

func newClient(t *testing.T, url string, opts Options) *Client {
	t.Helper()
	c, err := New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "localhost:11434", "ftp://x", "http://", "::"} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	c := newClient(t, "http://127.0.0.1:11434/", Options{})
	if c.Endpoint() != "http://127.0.0.1:11434" || c.Name() != "ollama" {
		t.Errorf("endpoint %q name %q", c.Endpoint(), c.Name())
	}
}

func TestModels(t *testing.T) {
	c := fakeOllama(t, map[string]route{
		"GET /api/tags":  {body: testdata(t, "tags.json")},
		"POST /api/show": {body: testdata(t, "show-chat.json")},
	})
	models, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Model{
		Name: "mai-tiny-chat:latest", Family: "llama", Parameters: 131520, ParameterLabel: "132K",
		Quantization: "F16", SizeBytes: 274440, ContextLength: 4096,
		Capabilities:    llm.Capabilities{Chat: true, Tools: true},
		KVBytesPerToken: 2 * (16 + 16) * 4 * 2, // layers × (key+value) × KV heads × 2 bytes
	}
	if len(models) != 2 || !reflect.DeepEqual(models[0], want) {
		t.Fatalf("models %+v\nwant first %+v", models, want)
	}
}

func TestKVBytesPerToken(t *testing.T) {
	tests := []struct {
		name string
		info string
		want int64
	}{
		{"grouped-query attention", `{"general.architecture":"llama","llama.block_count":32,"llama.embedding_length":4096,"llama.attention.head_count":32,"llama.attention.head_count_kv":8}`, 32 * 256 * 8 * 2},
		{"explicit key and value lengths", `{"general.architecture":"qwen3","qwen3.block_count":2,"qwen3.attention.head_count":8,"qwen3.attention.head_count_kv":2,"qwen3.attention.key_length":128,"qwen3.attention.value_length":64}`, 2 * 192 * 2 * 2},
		{"KV heads per layer", `{"general.architecture":"x","x.block_count":3,"x.embedding_length":64,"x.attention.head_count":4,"x.attention.head_count_kv":[4,0,2]}`, 32 * 6 * 2},
		{"no KV heads: all heads", `{"general.architecture":"x","x.block_count":1,"x.embedding_length":64,"x.attention.head_count":4}`, 32 * 4 * 2},
		{"per-layer list of the wrong length", `{"general.architecture":"x","x.block_count":2,"x.embedding_length":64,"x.attention.head_count":4,"x.attention.head_count_kv":[1]}`, 0},
		{"nothing known", `{}`, 0},
		{"garbage", `{"general.architecture":"x","x.block_count":"many"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s showResponse
			if err := json.Unmarshal([]byte(`{"model_info":`+tt.info+`}`), &s); err != nil {
				t.Fatal(err)
			}
			var arch string
			json.Unmarshal(s.ModelInfo["general.architecture"], &arch)
			if got := s.kvBytesPerToken(arch); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLoaded(t *testing.T) {
	c := fakeOllama(t, map[string]route{"GET /api/ps": {body: testdata(t, "ps.json")}})
	got, err := c.Loaded(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.Instance{
		{Model: "mai-tiny-chat:latest", ID: "mai-tiny-chat:latest", SizeBytes: 2311552, VRAMBytes: 0, ContextLength: 4096,
			ExpiresAt: time.Date(2026, 11, 25, 14, 1, 5, 950973597, time.UTC)},
		{Model: "qwen2.5:14b", ID: "qwen2.5:14b", SizeBytes: 10737418240, VRAMBytes: 10737418240, ContextLength: 8192}, // keep_alive -1: never expires
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range got {
		if !got[i].ExpiresAt.Equal(want[i].ExpiresAt) {
			t.Errorf("%d: expires %v, want %v", i, got[i].ExpiresAt, want[i].ExpiresAt)
		}
		got[i].ExpiresAt, want[i].ExpiresAt = time.Time{}, time.Time{}
		if got[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// refusedURL is an address where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestMetadataErrors(t *testing.T) {
	refused := newClient(t, refusedURL(t), Options{})
	tests := []struct {
		name   string
		client *Client
		routes map[string]route
		kind   error
		msg    string
	}{
		{name: "refused", client: refused, kind: llm.ErrUnreachable,
			msg: "Ollama is not reachable at " + refused.Endpoint()},
		{name: "500 with an error", routes: map[string]route{"GET /api/tags": {status: 500, body: `{"error":"disk full"}`}},
			kind: llm.ErrBadResponse, msg: "failed on /api/tags (HTTP 500): disk full"},
		{name: "502 HTML from a proxy", routes: map[string]route{"GET /api/tags": {status: 502, contentType: "text/html", body: "<html><body>Bad Gateway</body></html>"}},
			kind: llm.ErrBadResponse, msg: "HTML page (HTTP 502)"},
		{name: "200 HTML from a web server", routes: map[string]route{"GET /api/tags": {contentType: "text/html", body: "<!doctype html><title>hi</title>"}},
			kind: llm.ErrBadResponse, msg: "answered /api/tags with an HTML page instead of JSON"},
		{name: "truncated JSON", routes: map[string]route{"GET /api/tags": {body: `{"models":[{"name":"a"`}},
			kind: llm.ErrBadResponse, msg: "sent malformed JSON for /api/tags"},
		{name: "wrong shape", routes: map[string]route{"GET /api/tags": {body: `{"models":"none"}`}},
			kind: llm.ErrBadResponse, msg: "sent malformed JSON for /api/tags"},
		{name: "not Ollama at all", routes: map[string]route{},
			kind: llm.ErrBadResponse, msg: "has no /api/tags (HTTP 404)"},
		{name: "500 plain text", routes: map[string]route{"GET /api/tags": {status: 500, contentType: "text/plain", body: "internal error"}},
			kind: llm.ErrBadResponse, msg: `answered /api/tags with HTTP 500: "internal error"`},
		{name: "401", routes: map[string]route{"GET /api/tags": {status: 401, body: `{"error":"unauthorized"}`}},
			kind: llm.ErrUnauthorized, msg: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			if c == nil {
				c = fakeOllama(t, tt.routes)
			}
			_, err := c.Models(context.Background())
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.kind, tt.msg)
			}
			if !strings.Contains(err.Error(), c.Endpoint()) {
				t.Errorf("error %q does not name the endpoint", err)
			}
			// What to set or run is the front ends' to say (a Discord user
			// cannot run ollama serve); the error says what happened.
			for _, advice := range []string{"OLLAMA_ENDPOINT", "ollama serve"} {
				if strings.Contains(err.Error(), advice) {
					t.Errorf("error %q carries command-line advice (%s)", err, advice)
				}
			}
		})
	}
}

func TestMetadataTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, Options{RequestTimeout: 100 * time.Millisecond})
	_, err := c.Version(context.Background())
	if !errors.Is(err, llm.ErrUnreachable) || !strings.Contains(err.Error(), "no answer in time") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Version(ctx); !errors.Is(err, context.Canceled) || errors.Is(err, llm.ErrUnreachable) {
		t.Fatalf("cancelled: err = %v, want context.Canceled only", err)
	}
}

func TestModelNotFound(t *testing.T) {
	c := fakeOllama(t, map[string]route{
		"GET /api/tags":   {body: testdata(t, "tags.json")},
		"POST /api/chat":  {status: 404, body: `{"error":"model 'nope' not found"}`},
		"POST /api/show":  {status: 404, body: `{"error":"model 'nope' not found"}`},
		"POST /api/embed": {status: 404, body: `{"error":"model 'nope' not found"}`},
		"GET /api/ps":     {body: `{"models":[]}`},
	})
	ctx := context.Background()
	_, chatErr := c.Chat(ctx, llm.Request{Model: "nope", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	_, loadErr := c.Load(ctx, "nope", llm.LoadOptions{})
	_, embedErr := c.Embed(ctx, "nope", []string{"x"})
	for name, err := range map[string]error{"chat": chatErr, "load": loadErr, "embed": embedErr} {
		var nf *llm.ModelNotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, llm.ErrModelNotFound) {
			t.Errorf("%s: err = %v, want a ModelNotFoundError", name, err)
			continue
		}
		want := `Ollama at ` + c.Endpoint() + ` has no model "nope"; available: mai-tiny-chat:latest, mai-tiny-embed:latest`
		if err.Error() != want {
			t.Errorf("%s: %q\nwant %q", name, err, want)
		}
	}
	if err := c.Unload(ctx, "nope"); err != nil {
		t.Errorf("unloading an unknown model: %v", err)
	}
}

func TestChatBody(t *testing.T) {
	temp, seed := 0.0, int64(42)
	req := llm.Request{
		Model: "m",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: "be brief"},
			{Role: llm.RoleUser, Content: "weather?"},
			{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "weather", Arguments: json.RawMessage(`{"city":"Oslo"}`)}, {Name: "noargs"}}},
			{Role: llm.RoleTool, Content: "rain", ToolCallID: "call_1"},
		},
		Tools:     []llm.Tool{{Name: "weather", Description: "d", Parameters: json.RawMessage(`{"type":"object"}`)}},
		Options:   llm.Options{MaxTokens: 8, Temperature: &temp, Seed: &seed, Stop: []string{"\n"}, ContextLength: 2048, TopK: 5},
		KeepAlive: -1,
	}
	b, err := json.Marshal(chatBody(req))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":"","tool_calls":[{"id":"call_1","function":{"index":0,"name":"weather","arguments":{"city":"Oslo"}}},{"function":{"index":1,"name":"noargs","arguments":{}}}]},` +
		`{"role":"tool","content":"rain","tool_name":"weather","tool_call_id":"call_1"}],` +
		`"tools":[{"type":"function","function":{"name":"weather","description":"d","parameters":{"type":"object"}}}],` +
		`"stream":true,"options":{"num_ctx":2048,"num_predict":8,"seed":42,"stop":["\n"],"temperature":0,"top_k":5},"keep_alive":-1}`
	if string(b) != want {
		t.Errorf("body\n%s\nwant\n%s", b, want)
	}
	b, _ = json.Marshal(chatBody(llm.Request{Model: "m", KeepAlive: 90 * time.Second}))
	if want := `{"model":"m","messages":null,"stream":true,"keep_alive":90}`; string(b) != want {
		t.Errorf("body %s, want %s", b, want)
	}
}

// drain reads a stream to its end.
func drain(s llm.Stream) ([]llm.Event, error) {
	defer s.Close()
	var evs []llm.Event
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// recordedChat streams the recorded /api/chat answer in testdata/file
// through the client and returns its events and the drained stream.
func recordedChat(t *testing.T, file string) ([]llm.Event, llm.Stream) {
	t.Helper()
	c := fakeOllama(t, map[string]route{"POST /api/chat": {contentType: "application/x-ndjson", body: testdata(t, file)}})
	s, err := c.Chat(context.Background(), llm.Request{Model: "qwen3:8b", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := drain(s)
	if err != nil {
		t.Fatal(err)
	}
	return evs, s
}

func TestChatStream(t *testing.T) {
	evs, s := recordedChat(t, "chat-tools.ndjson")
	var kinds []string
	var text strings.Builder
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind.String())
		text.WriteString(ev.Text)
	}
	if got := strings.Join(kinds, " "); got != "text text text tool_call tool_call done" {
		t.Fatalf("events %s", got)
	}
	if text.String() != "Let me check." {
		t.Errorf("text %q", text.String())
	}
	tc := evs[3].ToolCall
	if tc.Name != "get_weather" || string(tc.Arguments) != `{"city":"Oslo","unit":"celsius"}` || tc.ID != "call_abc" {
		t.Errorf("tool call %+v %s", tc, tc.Arguments)
	}
	if string(evs[4].ToolCall.Arguments) != "{}" {
		t.Errorf("tool call without arguments: %s", evs[4].ToolCall.Arguments)
	}
	st := evs[5].Stats
	if st.Model != "qwen3:8b" || st.FinishReason != "tool_calls" || st.PromptTokens != 26 || st.CompletionTokens != 40 ||
		st.LoadDuration != 54749148 || st.PromptDuration != 1850615 || st.EvalDuration != 400000000 || st.TotalDuration != 469881692 {
		t.Errorf("stats %+v", st)
	}
	if st.TokensPerSecond != 100 || st.TimeToFirstToken <= 0 {
		t.Errorf("tokens/s %v, ttft %v", st.TokensPerSecond, st.TimeToFirstToken)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v, want io.EOF", err)
	}
}

func TestChatStreamErrors(t *testing.T) {
	const line = `{"model":"m","created_at":"2026-11-25T13:56:26Z","message":{"role":"assistant","content":"k"},"done":false}` + "\n"
	tests := []struct {
		name   string
		rt     route
		before error // from Chat
		after  error // from the stream
		msg    string
		texts  int // text events before the error
	}{
		{name: "error line mid-stream", rt: route{body: line + line + `{"error":"an error was encountered while running the model: CUDA error: out of memory"}` + "\n"},
			after: llm.ErrBadResponse, msg: "failed mid-answer: an error was encountered while running the model: CUDA error", texts: 2},
		{name: "error that is not a string", rt: route{body: line + `{"error":{"code":7}}` + "\n"},
			after: llm.ErrBadResponse, msg: `failed mid-answer: {"code":7}`, texts: 1},
		{name: "malformed line", rt: route{body: line + "{\"model\":\"m\",\"message\":{\"content\":\"x\"\n" + line},
			after: llm.ErrBadResponse, msg: "sent a malformed line in the chat stream", texts: 1},
		{name: "not JSON at all", rt: route{body: "hello\n"},
			after: llm.ErrBadResponse, msg: `malformed line in the chat stream: "hello"`},
		{name: "ends without done", rt: route{body: line + line},
			after: llm.ErrStreamTruncated, msg: "ended the answer before it was done", texts: 2},
		{name: "last line cut off", rt: route{body: line + `{"model":"m","done":tr`},
			after: llm.ErrBadResponse, msg: "malformed line", texts: 1},
		{name: "empty 200", rt: route{body: ""},
			after: llm.ErrStreamTruncated, msg: "ended the answer before it was done"},
		{name: "HTML 200", rt: route{contentType: "text/html", body: "<html></html>"},
			before: llm.ErrBadResponse, msg: "HTML page instead of a stream"},
		{name: "400 does not support chat", rt: route{status: 400, body: `{"error":"\"mai-tiny-embed\" does not support chat"}`},
			before: llm.ErrBadResponse, msg: `failed on /api/chat (HTTP 400): "mai-tiny-embed" does not support chat`},
		{name: "500 truncated JSON", rt: route{status: 500, body: `{"error":"out of mem`},
			before: llm.ErrBadResponse, msg: `answered /api/chat with HTTP 500: "{\"error\":\"out of mem"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.rt
			if rt.contentType == "" {
				rt.contentType = "application/x-ndjson"
			}
			c := fakeOllama(t, map[string]route{"POST /api/chat": rt})
			s, err := c.Chat(context.Background(), llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
			if tt.before != nil {
				if !errors.Is(err, tt.before) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("Chat err = %v, want %v containing %q", err, tt.before, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			evs, err := drain(s)
			if !errors.Is(err, tt.after) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("stream err = %v, want %v containing %q", err, tt.after, tt.msg)
			}
			if !strings.Contains(err.Error(), "Ollama at "+c.Endpoint()) {
				t.Errorf("error %q does not name the backend", err)
			}
			if len(evs) != tt.texts {
				t.Errorf("%d events before the error, want %d", len(evs), tt.texts)
			}
			if _, again := s.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("Next after the error: %v, want the same error", again)
			}
		})
	}
}

// slowServer streams a line every 10 ms until the client goes away, and
// reports on gone when it noticed.
func slowServer(t *testing.T, stallAfter int) (url string, gone <-chan struct{}) {
	t.Helper()
	g := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(g)
		// Read the request as Ollama does; only then does net/http watch
		// the connection and cancel r.Context() when the client leaves.
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := 0; ; i++ {
			if i < stallAfter {
				fmt.Fprintf(w, `{"model":"m","message":{"role":"assistant","content":"t%d "},"done":false}`+"\n", i)
				w.(http.Flusher).Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, g
}

func TestChatStall(t *testing.T) {
	url, gone := slowServer(t, 2)
	c := newClient(t, url, Options{IdleTimeout: 200 * time.Millisecond})
	s, err := c.Chat(context.Background(), llm.Request{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := drain(s)
	if !errors.Is(err, llm.ErrStreamTruncated) || !strings.Contains(err.Error(), "stopped sending the answer for 200ms") {
		t.Fatalf("err = %v", err)
	}
	if len(evs) != 2 {
		t.Errorf("%d events before the stall, want 2", len(evs))
	}
	waitGone(t, gone)
}

// TestChatSlowConsumer: the idle timeout measures the server's silence, not
// the time the caller takes between events.
func TestChatSlowConsumer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		for i := range 3 {
			fmt.Fprintf(w, `{"message":{"content":"t%d"},"done":false}`+"\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(w, `{"done":true,"done_reason":"stop"}`+"\n")
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, Options{IdleTimeout: 100 * time.Millisecond})
	s, err := c.Chat(context.Background(), llm.Request{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; ; i++ {
		ev, err := s.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Kind == llm.EventDone {
			break
		}
		time.Sleep(250 * time.Millisecond) // the caller is busy, e.g. editing a Discord message
	}
}

func TestChatHeaderTimeout(t *testing.T) {
	url, _ := slowServer(t, 0) // never sends a line, and so never its headers
	c := newClient(t, url, Options{HeaderTimeout: 200 * time.Millisecond})
	_, err := c.Chat(context.Background(), llm.Request{Model: "m"})
	if !errors.Is(err, llm.ErrUnreachable) || !strings.Contains(err.Error(), "no answer in time") {
		t.Fatalf("err = %v", err)
	}
}

func waitGone(t *testing.T, gone <-chan struct{}) {
	t.Helper()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the request end")
	}
}

func TestChatCancel(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			url, gone := slowServer(t, 1<<30)
			c := newClient(t, url, Options{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := c.Chat(ctx, llm.Request{Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := s.Next(); err != nil || ev.Kind != llm.EventText {
				t.Fatalf("first event %+v, %v", ev, err)
			}
			if how == "cancel" {
				cancel()
			} else {
				s.Close()
			}
			waitGone(t, gone)
			// Events already read may still come; then the stream ends.
			var err2 error
			for range 100 {
				if _, err2 = s.Next(); err2 != nil {
					break
				}
			}
			want := context.Canceled
			if how == "close" {
				want = errClosed
			}
			if !errors.Is(err2, want) {
				t.Fatalf("after %s: err = %v, want %v", how, err2, want)
			}
			s.Close()
		})
	}
}

func TestUnreachableChat(t *testing.T) {
	c := newClient(t, refusedURL(t), Options{})
	_, err := c.Chat(context.Background(), llm.Request{Model: "m"})
	want := "Ollama is not reachable at " + c.Endpoint()
	if !errors.Is(err, llm.ErrUnreachable) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestEmbedErrors(t *testing.T) {
	c := fakeOllama(t, map[string]route{"POST /api/embed": {body: `{"model":"e","embeddings":[[0.1,0.2]]}`}})
	if _, err := c.Embed(context.Background(), "e", []string{"a", "b"}); !errors.Is(err, llm.ErrBadResponse) || !strings.Contains(err.Error(), "returned 1 embeddings for 2 inputs") {
		t.Errorf("err = %v", err)
	}
	if v, err := c.Embed(context.Background(), "e", nil); err != nil || v != nil {
		t.Errorf("no inputs: %v, %v", v, err)
	}
}

// A reasoning model's "thinking" field arrives as thinking events, apart
// from the answer's text (a recorded stream of a model asked with think).
func TestChatStreamThinking(t *testing.T) {
	evs, _ := recordedChat(t, "chat-thinking.ndjson")
	var kinds []string
	var text, thought strings.Builder
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind.String())
		switch ev.Kind {
		case llm.EventThinking:
			thought.WriteString(ev.Text)
		case llm.EventText:
			text.WriteString(ev.Text)
		}
	}
	if got := strings.Join(kinds, " "); got != "thinking thinking thinking text text done" {
		t.Fatalf("events %s", got)
	}
	if text.String() != "Hello!" || thought.String() != "Okay, the user says hi." {
		t.Errorf("text %q, thinking %q", text.String(), thought.String())
	}
	if st := evs[len(evs)-1].Stats; st.CompletionTokens != 5 || st.FinishReason != "stop" {
		t.Errorf("stats %+v", st)
	}
}
