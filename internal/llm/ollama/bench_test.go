package ollama

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
)

// benchRequest is the request both sides of the comparison send.
func benchRequest(tokens int) llm.Request {
	zero, seed := 0.0, int64(1)
	return llm.Request{Model: ollamatest.ChatModel, Messages: userSays("hello"),
		Options: llm.Options{MaxTokens: tokens, Temperature: &zero, Seed: &seed}}
}

// rawChat is the obvious alternative to the client: post the same body and
// scan lines until "done":true, timing the first line and the last.
func rawChat(hc *http.Client, url string, body []byte) (ttft, total time.Duration, err error) {
	start := time.Now()
	resp, err := hc.Post(url+"/api/chat", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if ttft == 0 {
			ttft = time.Since(start)
		}
		if bytes.Contains(sc.Bytes(), []byte(`"done":true`)) {
			_, _ = io.Copy(io.Discard, resp.Body)
			return ttft, time.Since(start), nil
		}
	}
	return 0, 0, fmt.Errorf("raw stream ended without done: %v", sc.Err())
}

// clientChat streams the same request through the client.
func clientChat(c *Client, req llm.Request) (ttft, total time.Duration, err error) {
	start := time.Now()
	s, err := c.Chat(context.Background(), req)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		if err != nil {
			return 0, 0, err
		}
		if ttft == 0 && ev.Kind == llm.EventText {
			ttft = time.Since(start)
		}
		if ev.Kind == llm.EventDone {
			return ttft, time.Since(start), nil
		}
	}
}

// BenchmarkChatVsRaw streams the same 64-token answer from the real Ollama
// through the client and through a bare HTTP request, alternating, and
// reports the client's time to first token and total time as ratios to the
// bare request's (goal ≤ 1.05) and its mean first-token overhead (goal < 2 ms).
func BenchmarkChatVsRaw(b *testing.B) {
	srv := ollamaServer.Server(b)
	c, err := New(srv.URL(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest(64)
	body, err := json.Marshal(chatBody(req))
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{}
	// Load the model and warm both connections before timing.
	for range 3 {
		if _, _, err := clientChat(c, req); err != nil {
			b.Fatal(err)
		}
		if _, _, err := rawChat(hc, srv.URL(), body); err != nil {
			b.Fatal(err)
		}
	}
	var ourFirst, ourTotal, rawFirst, rawTotal []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate which goes first so drift in the server favours neither.
		for j := range 2 {
			if (i+j)%2 == 0 {
				f, t, err := clientChat(c, req)
				if err != nil {
					b.Fatal(err)
				}
				ourFirst, ourTotal = append(ourFirst, f), append(ourTotal, t)
			} else {
				f, t, err := rawChat(hc, srv.URL(), body)
				if err != nil {
					b.Fatal(err)
				}
				rawFirst, rawTotal = append(rawFirst, f), append(rawTotal, t)
			}
		}
	}
	// Medians: a shared two-core machine has outliers that swamp means.
	of, ot, rf, rt := median(ourFirst), median(ourTotal), median(rawFirst), median(rawTotal)
	b.ReportMetric(float64(of)/float64(rf), "ttft-ratio")
	b.ReportMetric(float64(ot)/float64(rt), "total-ratio")
	b.ReportMetric(float64(of-rf)/1e6, "ttft-overhead-ms")
	b.ReportMetric(float64(rf)/1e6, "raw-ttft-ms")
	b.ReportMetric(float64(rt)/1e6, "raw-total-ms")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// ndjsonBody is an Ollama answer of n tokens, with the fields real lines carry.
func ndjsonBody(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"model":"qwen3:8b","created_at":"2026-11-25T13:56:26.364406623Z","message":{"role":"assistant","content":"tok%d "},"done":false}`+"\n", i)
	}
	b.WriteString(`{"model":"qwen3:8b","created_at":"2026-11-25T13:56:26.367806153Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":469881692,"load_duration":54749148,"prompt_eval_count":26,"prompt_eval_duration":1850615,"eval_count":200,"eval_duration":400000000}` + "\n")
	return b.Bytes()
}

// naiveDecode is the obvious alternative parser: scan lines, decode each
// into a map, pull the content out.
func naiveDecode(body []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return n, err
		}
		if msg, ok := m["message"].(map[string]any); ok {
			if s, _ := msg["content"].(string); s != "" {
				n++
			}
		}
	}
	return n, sc.Err()
}

func decodeStream(body []byte) (int, error) {
	c := &Client{base: "http://bench", idle: time.Minute}
	ctx, cancel := context.WithCancelCause(context.Background())
	s := newStream(c, ctx, cancel, io.NopCloser(bytes.NewReader(body)), time.Now())
	defer s.Close()
	n := 0
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if ev.Kind == llm.EventText {
			n++
		}
	}
}

// BenchmarkStreamDecode decodes a 200-token answer without the network and
// reports allocations per token and the time against naiveDecode's.
func BenchmarkStreamDecode(b *testing.B) {
	const tokens = 200
	body := ndjsonBody(tokens)
	var ours, naive time.Duration
	for b.Loop() {
		t0 := time.Now()
		if n, err := decodeStream(body); err != nil || n != tokens {
			b.Fatalf("decoded %d tokens, %v", n, err)
		}
		ours += time.Since(t0)
		t0 = time.Now()
		if n, err := naiveDecode(body); err != nil || n != tokens {
			b.Fatalf("naive: %d, %v", n, err)
		}
		naive += time.Since(t0)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N)/tokens, "ns/token")
	b.ReportMetric(float64(ours)/float64(naive), "ratio-vs-naive")
}

// BenchmarkStreamDecodeAllocs counts the allocations per streamed token of
// the decoder alone.
func BenchmarkStreamDecodeAllocs(b *testing.B) {
	const tokens = 200
	body := ndjsonBody(tokens)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := decodeStream(body); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeStream(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(allocs/tokens, "allocs/token")
}

// TestStreamDecodeAllocs keeps the per-token allocations from creeping up:
// the token's text and what encoding/json needs per line.
func TestStreamDecodeAllocs(t *testing.T) {
	const tokens = 200
	body := ndjsonBody(tokens)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := decodeStream(body); err != nil {
			t.Fatal(err)
		}
	})
	if perToken := allocs / tokens; perToken > 1.2 {
		t.Errorf("%.2f allocations per token", perToken)
	}
}
