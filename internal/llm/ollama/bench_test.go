package ollama

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/benchpair"
	"github.com/maicompanion/mai/internal/llm"
)

// ndjsonBody is an Ollama answer of n tokens, with the fields real lines carry.
func ndjsonBody(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"model":"qwen3:8b","created_at":"2026-11-25T13:56:26.364406623Z","message":{"role":"assistant","content":"tok%d "},"done":false}`+"\n", i)
	}
	b.WriteString(`{"model":"qwen3:8b","created_at":"2026-11-25T13:56:26.367806153Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","total_duration":469881692,"load_duration":54749148,"prompt_eval_count":26,"prompt_eval_duration":1850615,"eval_count":200,"eval_duration":400000000}` + "\n")
	return b.Bytes()
}

// jsonDecode is the strongest plain alternative to the stream's parser:
// read lines as the stream does, decode each with encoding/json into the
// same struct (reused, as the stream reuses it), take the content out.
func jsonDecode(body []byte) (int, error) {
	r := bufio.NewReaderSize(bytes.NewReader(body), 16<<10)
	var l chatLine
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			return n, nil
		}
		if err != nil && err != io.EOF {
			return n, err
		}
		l.reset()
		if err := json.Unmarshal(line, &l); err != nil {
			return n, err
		}
		if l.Message.Content != "" {
			n++
		}
	}
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

// BenchmarkStreamDecode decodes a 200-token answer without the network,
// alternating the stream's parser (mai) with jsonDecode (json).
func BenchmarkStreamDecode(b *testing.B) {
	const tokens = 200
	body := ndjsonBody(tokens)
	count := func(decode func([]byte) (int, error)) func() error {
		return func() error {
			if n, err := decode(body); err != nil || n != tokens {
				return fmt.Errorf("decoded %d of %d tokens: %v", n, tokens, err)
			}
			return nil
		}
	}
	benchpair.Run(b, 200, benchpair.Side{Name: "mai", Call: count(decodeStream)}, benchpair.Side{Name: "json", Call: count(jsonDecode)})
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
