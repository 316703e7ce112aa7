package router_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/benchpair"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/router"
)

// sharedOllama is one real Ollama for the benchmarks (and the tests that
// only read) of this package, so
// that -count runs do not each register the models again; TestMain stops it.
var sharedOllama = &ollamatest.Shared{}

func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, sharedOllama)) }

// chatTokens is the answer length of the chat benchmarks.
const chatTokens = 64

// rawBody is the /api/chat body the router's Ollama client sends for
// benchRequest, written out by hand: the baseline must not borrow Mai's code.
func rawBody(model string) []byte {
	return fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":"hello"}],"stream":true,"options":{"num_predict":%d,"seed":1,"temperature":0}}`, model, chatTokens)
}

func benchRequest() llm.Request {
	zero, seed := 0.0, int64(1)
	return llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hello"}},
		Options: llm.Options{MaxTokens: chatTokens, Temperature: &zero, Seed: &seed}}
}

// rawChat posts body and reads the NDJSON lines until "done":true,
// returning the text and the time to the first text.
func rawChat(ctx context.Context, hc *http.Client, url string, body []byte) (string, time.Duration, error) {
	start := time.Now()
	var first time.Duration
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/chat", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", 0, fmt.Errorf("raw chat: %s: %s", resp.Status, b)
	}
	var text bytes.Buffer
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line struct {
			Message struct{ Content string } `json:"message"`
			Done    bool                     `json:"done"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return "", 0, err
		}
		if first == 0 && line.Message.Content != "" {
			first = time.Since(start)
		}
		text.WriteString(line.Message.Content)
		if line.Done {
			return text.String(), first, nil
		}
	}
	return "", 0, fmt.Errorf("raw stream ended without done: %v", sc.Err())
}

// routerChat streams benchRequest through the router to its end,
// returning the text and the time to the first text.
func routerChat(ctx context.Context, r *router.Router) (string, time.Duration, error) {
	start := time.Now()
	var first time.Duration
	s, err := r.Chat(ctx, benchRequest())
	if err != nil {
		return "", 0, err
	}
	defer s.Close()
	var text bytes.Buffer
	for {
		ev, err := s.Next()
		if err != nil {
			return "", 0, err
		}
		switch ev.Kind {
		case llm.EventText:
			if first == 0 {
				first = time.Since(start)
			}
			text.WriteString(ev.Text)
		case llm.EventDone:
			return text.String(), first, nil
		}
	}
}

// BenchmarkChatVsRaw streams the same 64-token answer from the real Ollama
// through the router (Mai's path: model choice, load check, client,
// failover wrapper) and as a bare HTTP request to the same server,
// alternating, to the end of the answer (total) and to its first token.
func BenchmarkChatVsRaw(b *testing.B) {
	srv := sharedOllama.Server(b)
	c := ollamaClient(b, srv)
	r, err := router.New(router.Config{
		Endpoints:   []router.Endpoint{{Backend: c, Pool: "ram"}},
		Pools:       []router.Pool{{Name: "ram", Bytes: 8 << 30, CPU: true}},
		Preferences: router.ParsePreferences([]string{"ollama:" + ollamatest.ChatModel}, []string{"ollama"}),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	hc := &http.Client{}
	body := rawBody(ollamatest.ChatModel)
	// Load the model, warm both connections, and check that both sides
	// ask for the same answer.
	var ours, raw string
	for range 3 {
		if ours, _, err = routerChat(ctx, r); err != nil {
			b.Fatal(err)
		}
		if raw, _, err = rawChat(ctx, hc, srv.URL(), body); err != nil {
			b.Fatal(err)
		}
	}
	if ours != raw {
		b.Fatalf("the two sides got different answers, so they do not send the same request:\nrouter %q\nraw    %q", ours, raw)
	}
	// Each answer is read to its end; the first-token row times the part
	// up to the first text.
	for _, first := range []bool{false, true} {
		name := "total"
		if first {
			name = "first-token"
		}
		b.Run(name, func(b *testing.B) {
			var maiFirst, rawFirst time.Duration
			mai := benchpair.Side{Name: "mai", Call: func() (err error) { _, maiFirst, err = routerChat(ctx, r); return err }}
			plain := benchpair.Side{Name: "raw", Call: func() (err error) { _, rawFirst, err = rawChat(ctx, hc, srv.URL(), body); return err }}
			if first {
				mai.Took = func() time.Duration { return maiFirst }
				plain.Took = func() time.Duration { return rawFirst }
			}
			benchpair.Run(b, 15, mai, plain)
		})
	}
}

// bareOllama switches models the way a script would with Ollama's own
// API: unload the loaded one (keep_alive 0), load the other, ask it.
type bareOllama struct {
	url string
	hc  *http.Client
}

func (o bareOllama) post(ctx context.Context, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	resp, err := o.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, b)
	}
	return nil
}

func (o bareOllama) switchTo(ctx context.Context, from, to string) error {
	if err := o.post(ctx, "/api/generate", fmt.Sprintf(`{"model":%q,"keep_alive":0}`, from)); err != nil {
		return err
	}
	if err := o.post(ctx, "/api/generate", fmt.Sprintf(`{"model":%q,"options":{"num_ctx":%d}}`, to, ollamaContext)); err != nil {
		return err
	}
	body := fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":"hi"}],"stream":true,"options":{"num_predict":1,"num_ctx":%d}}`, to, ollamaContext)
	_, _, err := rawChat(ctx, o.hc, o.url, body)
	return err
}

// BenchmarkModelSwitch switches between the two tiny models on a real
// Ollama whose (router's) memory holds one — unload, load, first token —
// through the router and with bare Ollama API calls, alternating; each
// call switches to the model that is not loaded.
func BenchmarkModelSwitch(b *testing.B) {
	srv := sharedOllama.Server(b)
	c := ollamaClient(b, srv)
	ctx := context.Background()
	models := []string{ollamatest.ChatModel, ollamatest.LargeChatModel}
	for _, m := range models { // whatever an earlier benchmark left loaded
		if err := c.Unload(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	sizes := measure(b, c, models...)
	pool, headroom := onePool(b, c, sizes)
	// The router trusts a model it saw loaded for a while; the bare side
	// changes what is loaded behind its back, so each switch happens a
	// minute after the last, as an owner's would.
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{{Backend: c, Pool: pool.Name}}, Pools: []router.Pool{pool},
		ContextLength: ollamaContext, Headroom: headroom, Now: now,
	})
	if err != nil {
		b.Fatal(err)
	}
	req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}, Options: llm.Options{MaxTokens: 1}}
	bare := bareOllama{url: srv.URL(), hc: &http.Client{Timeout: time.Minute}}
	loaded := 0 // index of the model loaded now
	if err := r.Switch(ctx, "ollama:"+models[loaded]); err != nil {
		b.Fatal(err)
	}
	mai := func() error {
		skew.Add(int64(time.Minute))
		next := 1 - loaded
		if err := r.Switch(ctx, "ollama:"+models[next]); err != nil {
			return err
		}
		s, err := r.Chat(ctx, req)
		if err != nil {
			return err
		}
		defer s.Close()
		if _, err := s.Next(); err != nil {
			return err
		}
		loaded = next
		return nil
	}
	plain := func() error {
		next := 1 - loaded
		if err := bare.switchTo(ctx, models[loaded], models[next]); err != nil {
			return err
		}
		loaded = next
		return nil
	}
	// Both sides must leave exactly the other model loaded.
	check := func() error {
		in, err := c.Loaded(ctx)
		if err != nil {
			return err
		}
		if len(in) != 1 || in[0].Model != models[loaded] {
			return errors.New("after a switch Ollama holds " + fmt.Sprint(in) + ", want only " + models[loaded])
		}
		return nil
	}
	benchpair.Run(b, 4, benchpair.Side{Name: "mai", Call: mai, Settle: check}, benchpair.Side{Name: "bare", Call: plain, Settle: check})
}
