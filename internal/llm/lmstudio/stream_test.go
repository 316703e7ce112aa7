package lmstudio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// rawStream decodes body as a chat stream, without a server.
func rawStream(body string) *chatStream {
	ctx, cancel := context.WithCancelCause(context.Background())
	srv := &server{label: "LM Studio", endpoint: "http://test", logHint: "lms log stream"}
	return newChatStream(context.Background(), ctx, cancel, srv, io.NopCloser(strings.NewReader(body)), time.Minute, time.Now(), "m")
}

// drain reads a stream to its end and returns the events and the final error
// (nil after a clean io.EOF).
func drain(t testing.TB, s llm.Stream) ([]llm.Event, error) {
	t.Helper()
	defer s.Close()
	var evs []llm.Event
	for i := 0; i < 100000; i++ {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
	t.Fatal("stream never ended")
	return nil, nil
}

func TestChatStreamDecoding(t *testing.T) {
	const (
		text1  = `data: {"model":"qwen","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}`
		text2  = `data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}`
		finish = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
		usage  = `data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}}`
		done   = `data: [DONE]`
	)
	call := []string{
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":null}]}`,
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"tz\":"}}]},"finish_reason":null}]}`,
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"noop","arguments":""}}]},"finish_reason":null}]}`,
		`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"UTC\"}"}}]},"finish_reason":null}]}`,
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	}
	join := func(sep string, lines ...string) string { return strings.Join(lines, sep+sep) + sep + sep }
	tests := []struct {
		name      string
		body      string
		wantText  string
		wantCalls []llm.ToolCall
		wantStats func(llm.Stats) bool
		wantErr   error
	}{
		{
			name:     "text with usage",
			body:     join("\n", text1, text2, finish, usage, done),
			wantText: "Hello",
			wantStats: func(s llm.Stats) bool {
				return s.Model == "qwen" && s.FinishReason == "stop" && s.PromptTokens == 7 && s.CompletionTokens == 2 && s.TotalDuration > 0
			},
		},
		{name: "crlf and comments", body: ": keep-alive\r\n\r\n" + join("\r\n", text1, ": ping", text2, finish, done), wantText: "Hello"},
		{name: "finish without DONE", body: join("\n", text1, text2, finish), wantText: "Hello"},
		{name: "DONE without finish", body: join("\n", text1, done), wantText: "Hel"},
		{
			name: "tool calls reassembled",
			body: join("\n", append(call, done)...),
			wantCalls: []llm.ToolCall{
				{ID: "c1", Name: "get_time", Arguments: []byte(`{"tz":"UTC"}`)},
				{ID: "c2", Name: "noop", Arguments: []byte(`{}`)},
			},
			wantStats: func(s llm.Stats) bool { return s.FinishReason == "tool_calls" },
		},
		{
			name:      "invalid tool arguments become a JSON string",
			body:      join("\n", `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"f","arguments":"{oops"}}]},"finish_reason":"tool_calls"}]}`, done),
			wantCalls: []llm.ToolCall{{ID: "x", Name: "f", Arguments: []byte(`"{oops"`)}},
		},
		{name: "ends without finish", body: join("\n", text1, text2), wantText: "Hello", wantErr: llm.ErrStreamTruncated},
		{name: "cut inside a chunk", body: join("\n", text1) + `data: {"choices":[{"ind`, wantText: "Hel", wantErr: llm.ErrStreamTruncated},
		{name: "empty body", body: "", wantErr: llm.ErrStreamTruncated},
		{name: "error chunk", body: join("\n", text1, `data: {"error":{"message":"model crashed","type":"server_error"}}`), wantText: "Hel", wantErr: llm.ErrBadResponse},
		{name: "error event", body: join("\n", "event: error\ndata: {\"message\":\"x\"}"), wantErr: llm.ErrBadResponse},
		{name: "malformed json", body: join("\n", "data: {not json}"), wantErr: llm.ErrBadResponse},
		{name: "two values in one event", body: join("\n", text1+` {"choices":[]}`, finish, done), wantErr: llm.ErrBadResponse},
		{name: "value split over two events", body: join("\n", `data: {"choices":`, `data: []}`, finish, done), wantErr: llm.ErrBadResponse},
		{name: "whitespace around values", body: join("\n", text1+"  \t", "data:   "+text2[len("data: "):]+" ", finish, done), wantText: "Hello"},
		{name: "empty data", body: join("\n", "data:", finish, done), wantErr: llm.ErrBadResponse},
		{name: "html instead of events", body: "<html><body>502 Bad Gateway</body></html>", wantErr: llm.ErrStreamTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := drain(t, rawStream(tt.body))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var text strings.Builder
			var calls []llm.ToolCall
			var stats *llm.Stats
			for i, ev := range evs {
				switch ev.Kind {
				case llm.EventText:
					text.WriteString(ev.Text)
				case llm.EventToolCall:
					calls = append(calls, ev.ToolCall)
				case llm.EventDone:
					if i != len(evs)-1 {
						t.Errorf("EventDone at %d of %d", i, len(evs))
					}
					stats = &evs[i].Stats
				}
			}
			if text.String() != tt.wantText {
				t.Errorf("text = %q, want %q", text.String(), tt.wantText)
			}
			if len(calls) != len(tt.wantCalls) {
				t.Fatalf("calls = %+v, want %+v", calls, tt.wantCalls)
			}
			for i := range calls {
				if calls[i].ID != tt.wantCalls[i].ID || calls[i].Name != tt.wantCalls[i].Name || string(calls[i].Arguments) != string(tt.wantCalls[i].Arguments) {
					t.Errorf("call %d = %+v (%s), want %+v (%s)", i, calls[i], calls[i].Arguments, tt.wantCalls[i], tt.wantCalls[i].Arguments)
				}
			}
			if (tt.wantErr == nil) != (stats != nil) {
				t.Fatalf("stats = %v with err %v", stats, err)
			}
			if tt.wantStats != nil && !tt.wantStats(*stats) {
				t.Errorf("stats = %+v", *stats)
			}
		})
	}
}

// FuzzChatStream feeds arbitrary bodies to the stream decoder: it must end
// with EventDone then io.EOF, or with an error, and never panic.
func FuzzChatStream(f *testing.F) {
	for _, seed := range []string{
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":99999999,\"function\":{\"name\":\"f\"}}]}}]}\n\ndata: [DONE]\n\n",
		"data: {\"error\":\"boom\"}\n\n",
		"event: error\ndata: {}\n\n",
		": c\r\n\r\ndata: [DONE]\r\n\r\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut",
		"data:\n\n",
		"data: {\"choices\":[]} {}\n\ndata: {}\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := drain(t, rawStream(string(body)))
		if err == nil {
			if len(evs) == 0 || evs[len(evs)-1].Kind != llm.EventDone {
				t.Fatalf("clean end without EventDone: %+v", evs)
			}
		}
		for i, ev := range evs {
			if ev.Kind == llm.EventDone && i != len(evs)-1 {
				t.Fatalf("EventDone before the end")
			}
			if ev.Kind == llm.EventToolCall && !json.Valid(ev.ToolCall.Arguments) {
				t.Fatalf("tool call arguments are not JSON: %q", ev.ToolCall.Arguments)
			}
		}
	})
}
