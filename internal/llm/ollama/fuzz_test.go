package ollama

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// FuzzChatStream feeds arbitrary bodies to the NDJSON stream reader. Seeds
// are in testdata/fuzz/FuzzChatStream. Whatever the body, the stream ends
// either with exactly one EventDone as its last event, or with an error that
// names the backend and matches a documented condition; it never panics.
func FuzzChatStream(f *testing.F) {
	f.Add([]byte(`{"message":{"content":"a"},"done":false}` + "\n" + `{"done":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := &Client{base: "http://fuzz", idle: time.Minute}
		ctx, cancel := context.WithCancelCause(context.Background())
		s := newStream(c, ctx, cancel, io.NopCloser(bytes.NewReader(body)), time.Now())
		evs, err := drain(s)
		dones := 0
		for _, ev := range evs {
			if ev.Kind == llm.EventDone {
				dones++
			}
			if ev.Kind == llm.EventToolCall && len(ev.ToolCall.Arguments) == 0 {
				t.Fatal("tool call without arguments")
			}
		}
		if err != nil {
			if dones != 0 {
				t.Fatalf("error %v after a done event", err)
			}
			if !errors.Is(err, llm.ErrBadResponse) && !errors.Is(err, llm.ErrStreamTruncated) {
				t.Fatalf("error %v matches no condition", err)
			}
			if !strings.Contains(err.Error(), "Ollama at http://fuzz") {
				t.Fatalf("error %q does not name the backend", err)
			}
			return
		}
		if dones != 1 || evs[len(evs)-1].Kind != llm.EventDone {
			t.Fatalf("stream ended without error and with %d done events (last %v)", dones, evs[len(evs)-1].Kind)
		}
	})
}

// FuzzFastLine checks that the fast path of token lines accepts only lines
// encoding/json reads the same way: valid JSON, not done, no error, no tool
// calls, the same text. Seeds are in testdata/fuzz/FuzzFastLine.
func FuzzFastLine(f *testing.F) {
	f.Add([]byte(`{"model":"m","created_at":"2026-11-25T13:56:26.364406623Z","message":{"role":"assistant","content":"tok"},"done":false}`))
	f.Add([]byte(`{"message":{"content":"\u003cb\u003e \"q\" \n \ud83d\ude00"},"done":false}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		content, ok := fastLine(line)
		if !ok {
			return
		}
		if !json.Valid(line) {
			t.Fatalf("fast path accepted invalid JSON %q", line)
		}
		var l chatLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("fast path accepted %q, json says %v", line, err)
		}
		if l.Done || len(l.Error) > 0 || len(l.Message.ToolCalls) > 0 || l.DoneReason != "" {
			t.Fatalf("fast path accepted a line with more than text: %q", line)
		}
		if l.Message.Content != content {
			t.Fatalf("fast path read %q, json %q, from %q", content, l.Message.Content, line)
		}
	})
}
