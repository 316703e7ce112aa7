package lmstudio

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/benchpair"
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

// jsonDecode is the strongest plain alternative to the stream's parser:
// read the SSE lines, decode each chunk with encoding/json into the same
// struct (reused), take the content out.
func jsonDecode(body string) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(body))
	var c chunk
	n := 0
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok || string(line) == "[DONE]" {
			continue
		}
		// Unmarshal reuses the slice's elements and keeps the fields a
		// chunk leaves out, so they are cleared first.
		choices := c.Choices[:cap(c.Choices)]
		clear(choices)
		c = chunk{Choices: choices[:0]}
		if err := json.Unmarshal(line, &c); err != nil {
			return n, err
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != "" {
				n++
			}
		}
	}
	return n, sc.Err()
}

// BenchmarkStreamDecode decodes a 200-token answer without the network,
// alternating the stream's parser (mai) with jsonDecode (json).
func BenchmarkStreamDecode(b *testing.B) {
	const tokens = 200
	body := streamBody(tokens)
	mai := func() error {
		evs, err := drain(b, rawStream(body))
		if err != nil || len(evs) != tokens+1 || evs[tokens].Kind != llm.EventDone {
			return fmt.Errorf("decoded %d events, %v", len(evs), err)
		}
		return nil
	}
	plain := func() error {
		if n, err := jsonDecode(body); err != nil || n != tokens {
			return fmt.Errorf("decoded %d of %d tokens: %v", n, tokens, err)
		}
		return nil
	}
	benchpair.Run(b, 200, benchpair.Side{Name: "mai", Call: mai}, benchpair.Side{Name: "json", Call: plain})
}

// BenchmarkStreamDecodeAllocs counts allocations per streamed token of our
// decoder alone.
func BenchmarkStreamDecodeAllocs(b *testing.B) {
	const tokens = 200
	body := streamBody(tokens)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drain(b, rawStream(body)); err != nil {
			b.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(20, func() { drain(b, rawStream(body)) })
	b.ReportMetric(allocs/tokens, "allocs/token")
}
