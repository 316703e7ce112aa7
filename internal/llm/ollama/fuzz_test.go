package ollama

import (
	"bytes"
	"context"
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
