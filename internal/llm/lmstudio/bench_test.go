package lmstudio

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// streamBody is an LM Studio answer of n tokens, one chunk each, with the
// fields real chunks carry.
func streamBody(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1731990317,"model":"qwen/qwen3-8b","system_fingerprint":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"content":"tok%d "},"logprobs":null,"finish_reason":null}]}`+"\n\n", i)
	}
	b.WriteString(`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1731990317,"model":"qwen/qwen3-8b","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString(`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1731990317,"model":"qwen/qwen3-8b","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":200,"total_tokens":205}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String()
}

// naiveDecode is the obvious alternative: scan lines, decode each chunk into
// a map, pull the content out.
func naiveDecode(body string) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(body))
	n := 0
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return n, err
		}
		for _, c := range m["choices"].([]any) {
			if d, ok := c.(map[string]any)["delta"].(map[string]any); ok {
				if s, ok := d["content"].(string); ok && s != "" {
					n++
				}
			}
		}
	}
	return n, sc.Err()
}

// BenchmarkStreamDecode measures decoding a 200-token answer, reporting
// allocations per token and the time against naiveDecode's as a ratio.
func BenchmarkStreamDecode(b *testing.B) {
	const tokens = 200
	body := streamBody(tokens)
	var mai, naive time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		evs, err := drain(b, rawStream(body))
		mai += time.Since(t0)
		if err != nil || len(evs) != tokens+1 || evs[tokens].Kind != llm.EventDone {
			b.Fatalf("decoded %d events, %v", len(evs), err)
		}
		t0 = time.Now()
		if n, err := naiveDecode(body); err != nil || n != tokens {
			b.Fatalf("naive: %d, %v", n, err)
		}
		naive += time.Since(t0)
	}
	b.ReportMetric(float64(mai.Nanoseconds())/float64(b.N)/tokens, "ns/token")
	b.ReportMetric(float64(mai)/float64(naive), "ratio-vs-naive")
}

// BenchmarkStreamDecodeAllocs counts allocations per streamed token of our
// decoder alone (BenchmarkStreamDecode's allocs include the naive one).
func BenchmarkStreamDecodeAllocs(b *testing.B) {
	const tokens = 200
	body := streamBody(tokens)
	b.ReportAllocs()
	var allocs float64
	for b.Loop() {
		if _, err := drain(b, rawStream(body)); err != nil {
			b.Fatal(err)
		}
	}
	allocs = testing.AllocsPerRun(20, func() { drain(b, rawStream(body)) })
	b.ReportMetric(allocs/tokens, "allocs/token")
}
