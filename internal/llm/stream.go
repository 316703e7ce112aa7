package llm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Stream is a chat answer arriving piece by piece. Next returns events in
// order, ending with exactly one EventDone, after which it returns io.EOF.
// A stream that breaks returns an error instead (ErrStreamTruncated when the
// server stopped without finishing). Close may be called at any time, more
// than once, and releases the connection. A Stream is used by one goroutine.
type Stream interface {
	// Next returns the next event, io.EOF after EventDone, or the error that ended the stream.
	Next() (Event, error)
	// Close ends the stream and releases its connection.
	Close() error
}

// EventKind says which fields of an Event are set.
type EventKind uint8

// The kinds of events a Stream yields.
const (
	// EventText carries Text, the next piece of the answer.
	EventText EventKind = iota + 1
	// EventToolCall carries ToolCall, complete with its arguments.
	EventToolCall
	// EventNotice carries Text, a one-line notice for the owner that is not
	// part of the answer (e.g. the router switched model mid-answer).
	EventNotice
	// EventDone carries Stats and is the last event.
	EventDone
	// EventRestart carries Restart and Text, a one-line notice for the owner:
	// the answer starts again, on another model. Every consumer discards
	// the text and tool calls received so far (the terminal reprints, a
	// Discord message is edited back, memory stores only what follows).
	EventRestart
	// EventThinking carries Text, a piece of a reasoning model's thinking
	// (Ollama's "thinking", OpenAI-style "reasoning_content"): never part
	// of the answer.
	EventThinking
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventText:
		return "text"
	case EventToolCall:
		return "tool_call"
	case EventNotice:
		return "notice"
	case EventDone:
		return "done"
	case EventRestart:
		return "restart"
	case EventThinking:
		return "thinking"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one step of a Stream. It is a plain value so that yielding a
// token allocates nothing beyond the token's text.
type Event struct {
	Kind     EventKind
	Text     string   // EventText, EventNotice, EventRestart, EventThinking
	ToolCall ToolCall // EventToolCall
	Stats    Stats    // EventDone
	Restart  Restart  // EventRestart
}

// Restart says why an answer starts again and where.
type Restart struct {
	From          string // the model that failed, as "backend:model"
	To            string // the model that answers now
	ContextLength int    // the context To is loaded with; 0 when unknown
	Discarded     bool   // text or tool calls had already arrived and are void
}

// Stats describe a finished answer. Zero fields were not reported.
type Stats struct {
	Model            string        // the model that answered
	FinishReason     string        // "stop", "length", "tool_calls"
	PromptTokens     int           // tokens read
	CompletionTokens int           // tokens generated
	LoadDuration     time.Duration // loading the model for this request
	PromptDuration   time.Duration // processing the prompt
	EvalDuration     time.Duration // generating the answer
	TotalDuration    time.Duration // the whole request as the server measured it
	TimeToFirstToken time.Duration
	TokensPerSecond  float64 // generation speed
	// FailedOver names the model ("backend:model") that failed during this
	// answer before Model took over; "" when the first model answered.
	FailedOver string
}

// Collect reads s to the end and returns the assembled assistant message and
// the final stats; notices are dropped, and an EventRestart discards what
// came before it, so the message is the final answer alone. It closes s. A
// stream that ends without EventDone is reported as ErrStreamTruncated.
func Collect(s Stream) (Message, Stats, error) {
	defer s.Close()
	var (
		text strings.Builder
		msg  = Message{Role: RoleAssistant}
	)
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			msg.Content = text.String()
			return msg, Stats{}, fmt.Errorf("collect: %w", ErrStreamTruncated)
		}
		if err != nil {
			msg.Content = text.String()
			return msg, Stats{}, err
		}
		switch ev.Kind {
		case EventText:
			text.WriteString(ev.Text)
		case EventToolCall:
			msg.ToolCalls = append(msg.ToolCalls, ev.ToolCall)
		case EventRestart:
			text.Reset()
			msg.ToolCalls = nil
		case EventDone:
			msg.Content = text.String()
			return msg, ev.Stats, nil
		}
	}
}
