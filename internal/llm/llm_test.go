package llm_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
)

// sliceStream yields events then err (io.EOF when nil), and counts Close.
type sliceStream struct {
	events []llm.Event
	err    error
	closed int
}

func (s *sliceStream) Next() (llm.Event, error) {
	if len(s.events) == 0 {
		if s.err != nil {
			return llm.Event{}, s.err
		}
		return llm.Event{}, io.EOF
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}

func (s *sliceStream) Close() error { s.closed++; return nil }

func TestCollect(t *testing.T) {
	call := llm.ToolCall{ID: "c1", Name: "run", Arguments: json.RawMessage(`{"x":1}`)}
	broken := errors.New("connection reset")
	tests := []struct {
		name      string
		events    []llm.Event
		err       error
		wantText  string
		wantCalls int
		wantStats llm.Stats
		wantErr   error
	}{
		{
			name: "text then done",
			events: []llm.Event{
				{Kind: llm.EventText, Text: "Hel"},
				{Kind: llm.EventNotice, Text: "switched"},
				{Kind: llm.EventText, Text: "lo"},
				{Kind: llm.EventDone, Stats: llm.Stats{FinishReason: "stop", CompletionTokens: 2}},
			},
			wantText:  "Hello",
			wantStats: llm.Stats{FinishReason: "stop", CompletionTokens: 2},
		},
		{
			name: "tool call",
			events: []llm.Event{
				{Kind: llm.EventToolCall, ToolCall: call},
				{Kind: llm.EventDone, Stats: llm.Stats{FinishReason: "tool_calls"}},
			},
			wantCalls: 1,
			wantStats: llm.Stats{FinishReason: "tool_calls"},
		},
		{
			name: "a restart discards the partial answer",
			events: []llm.Event{
				{Kind: llm.EventText, Text: "par"},
				{Kind: llm.EventToolCall, ToolCall: call},
				{Kind: llm.EventRestart, Text: "a failed; starting the answer again with b", Restart: llm.Restart{From: "x:a", To: "y:b", Discarded: true}},
				{Kind: llm.EventText, Text: "whole "},
				{Kind: llm.EventText, Text: "answer"},
				{Kind: llm.EventDone, Stats: llm.Stats{FinishReason: "stop", FailedOver: "x:a"}},
			},
			wantText:  "whole answer",
			wantStats: llm.Stats{FinishReason: "stop", FailedOver: "x:a"},
		},
		{
			name:     "eof without done is truncated",
			events:   []llm.Event{{Kind: llm.EventText, Text: "half"}},
			wantText: "half",
			wantErr:  llm.ErrStreamTruncated,
		},
		{
			name:     "error keeps partial text",
			events:   []llm.Event{{Kind: llm.EventText, Text: "par"}},
			err:      broken,
			wantText: "par",
			wantErr:  broken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sliceStream{events: tt.events, err: tt.err}
			msg, stats, err := llm.Collect(s)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if msg.Role != llm.RoleAssistant || msg.Content != tt.wantText || len(msg.ToolCalls) != tt.wantCalls {
				t.Errorf("msg = %+v, want text %q and %d calls", msg, tt.wantText, tt.wantCalls)
			}
			if stats != tt.wantStats {
				t.Errorf("stats = %+v, want %+v", stats, tt.wantStats)
			}
			if s.closed == 0 {
				t.Error("Collect did not close the stream")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	cause := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	unreachable := &llm.Error{Kind: llm.ErrUnreachable, Msg: "LM Studio is not reachable at http://127.0.0.1:1 — is the server running (lms server start)?", Cause: cause}
	notFound := &llm.ModelNotFoundError{Backend: "LM Studio", Model: "nope", Available: []string{"a", "b"}}
	tests := []struct {
		name     string
		err      error
		is       error
		isNot    error
		contains []string
	}{
		{"unreachable", unreachable, llm.ErrUnreachable, llm.ErrBadResponse, []string{"not reachable", "lms server start", "connection refused"}},
		{"no cause", &llm.Error{Kind: llm.ErrBadResponse, Msg: "LM Studio answered HTML"}, llm.ErrBadResponse, llm.ErrUnreachable, []string{"answered HTML"}},
		{"not found lists names", notFound, llm.ErrModelNotFound, llm.ErrUnreachable, []string{`"nope"`, "available: a, b"}},
		{"not found empty", &llm.ModelNotFoundError{Backend: "Ollama", Model: "x"}, llm.ErrModelNotFound, llm.ErrBadResponse, []string{"no models installed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.is)
			}
			if errors.Is(tt.err, tt.isNot) {
				t.Errorf("errors.Is(%v, %v) = true", tt.err, tt.isNot)
			}
			for _, s := range tt.contains {
				if !strings.Contains(tt.err.Error(), s) {
					t.Errorf("%q does not contain %q", tt.err.Error(), s)
				}
			}
		})
	}
	var op *net.OpError
	if !errors.As(unreachable, &op) {
		t.Error("errors.As does not reach the cause")
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[llm.EventKind]string{llm.EventText: "text", llm.EventToolCall: "tool_call", llm.EventNotice: "notice", llm.EventDone: "done", llm.EventRestart: "restart", llm.EventThinking: "thinking", 0: "EventKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}
