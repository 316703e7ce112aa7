package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/chat/chattest"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/memory"
)

// vocabulary is 5,000 made-up words; history draws them with Zipf's law,
// as natural language does, so recall meets realistic term frequencies.
func vocabulary() []string {
	syl := strings.Fields("ka lo mi ne ru sa ti vo ze pa gu fe di ho ba")
	words := make([]string, 5000)
	for i := range words {
		w := ""
		for n := i; ; n /= len(syl) {
			w += syl[n%len(syl)]
			if n < len(syl) {
				break
			}
		}
		words[i] = w
	}
	return words
}

// seedHistory stores n messages of user in conversations of 100.
func seedHistory(b *testing.B, mem *memory.Store, user string, n int) {
	b.Helper()
	ctx := context.Background()
	vocab := vocabulary()
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(vocab)-1))
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	var conv int64
	batch := make([]memory.Message, 0, 1000)
	for i := range n {
		if i%100 == 0 {
			var err error
			if conv, err = mem.StartConversation(ctx, user, "terminal"); err != nil {
				b.Fatal(err)
			}
		}
		words := make([]string, 8+rng.IntN(30))
		for j := range words {
			words[j] = vocab[zipf.Uint64()]
		}
		role := memory.RoleUser
		if i%2 == 1 {
			role = memory.RoleAssistant
		}
		batch = append(batch, memory.Message{ConversationID: conv, Role: role, Content: strings.Join(words, " "), Time: start.Add(time.Duration(i) * time.Minute)})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := mem.AppendBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkTurnOverhead measures what the chat core adds to an answer —
// context assembly over 10^5 stored messages, memory writes, event
// plumbing — against a bare router stream of the very same prompt, both
// from the real Ollama paced to 50 tokens/s by a delaying proxy (the tiny
// model alone answers in milliseconds). Each round runs one turn through
// the core, then the messages the core sent, straight through the router.
//
// The proxy's clock splits each request into the caller's time before the
// request reaches the model server, the model's time, and the caller's time
// after the last token. Overhead is the core's before+after minus the bare
// router's. The model's time is taken from the bare stream for both totals:
// Ollama caches the prompt of the previous request, so the second of two
// identical prompts is processed faster and a plain comparison of the two
// wall times would charge the cache to the core.
func BenchmarkTurnOverhead(b *testing.B) {
	const (
		tokens = 20
		rounds = 12
	)
	srv := shared.Server(b)
	proxy := chattest.NewProxy(b, srv.URL(), 20*time.Millisecond)
	be, err := ollama.New(proxy.URL, ollama.Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := newRouter(b, []string{"ollama:" + ollamatest.ChatModel}, be)
	mem := openMemory(b, benchDB(b))
	seedHistory(b, mem, "owner", 100_000)
	vocab := vocabulary()
	core, err := chat.New(chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1,
		Persona: func() (string, error) { return persona, nil }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := core.Send(ctx, chat.Message{User: "owner", Text: "/clear"}, func(chat.Event) {}); err != nil {
		b.Fatal(err)
	}
	// Warm up: load the model, fill the caches.
	if err := core.Send(ctx, chat.Message{User: "owner", Text: "hello", MaxTokens: tokens}, func(chat.Event) {}); err != nil {
		b.Fatal(err)
	}
	var coreT, bareT, over []time.Duration
	split := func(start, end time.Time) (outside, model time.Duration) {
		tm := proxy.Timings()
		last := tm[len(tm)-1]
		return last.Arrived.Sub(start) + end.Sub(last.LastByte), last.LastByte.Sub(last.Arrived)
	}
	b.ResetTimer()
	for b.Loop() {
		for i := range rounds {
			text := fmt.Sprintf("what did I say about the %s and the %s?", vocab[50+i*37], vocab[200+i*91])
			events := 0
			t0 := time.Now()
			if err := core.Send(ctx, chat.Message{User: "owner", Text: text, MaxTokens: tokens}, func(chat.Event) { events++ }); err != nil {
				b.Fatal(err)
			}
			coreOut, _ := split(t0, time.Now())
			req := lastRequest(b, proxy)
			req.Options.MaxTokens = tokens
			t1 := time.Now()
			bare(b, ctx, r.Chat, req)
			bareOut, model := split(t1, time.Now())
			if events < tokens {
				b.Fatalf("the core emitted %d events for %d tokens", events, tokens)
			}
			coreT, bareT, over = append(coreT, coreOut+model), append(bareT, bareOut+model), append(over, coreOut-bareOut)
		}
	}
	b.StopTimer()
	var sc, sb time.Duration
	for i := range coreT {
		sc, sb = sc+coreT[i], sb+bareT[i]
	}
	b.ReportMetric(ms(percentile(over, .5)), "overhead-p50-ms")
	b.ReportMetric(ms(percentile(over, .9)), "overhead-p90-ms")
	b.ReportMetric(ms(percentile(bareT, .5)), "bare-p50-ms")
	b.ReportMetric(ms(percentile(coreT, .5)), "core-p50-ms")
	b.ReportMetric(float64(sc)/float64(sb), "core/bare")
}

// lastRequest returns the last chat the core sent, as a router request.
func lastRequest(b *testing.B, p *chattest.Proxy) llm.Request {
	b.Helper()
	chats := p.Chats()
	var body struct {
		Messages []llm.Message `json:"messages"`
	}
	if err := json.Unmarshal(chats[len(chats)-1], &body); err != nil {
		b.Fatal(err)
	}
	return llm.Request{Messages: body.Messages}
}

// bare streams req through the router and reads it to the end.
func bare(b *testing.B, ctx context.Context, chatFn func(context.Context, llm.Request) (llm.Stream, error), req llm.Request) {
	s, err := chatFn(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for {
		_, err := s.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchDB(b *testing.B) string { return b.TempDir() + "/mai.db" }

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
