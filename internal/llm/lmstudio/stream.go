package lmstudio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

var (
	errStalled = errors.New("stream stalled")
	errClosed  = errors.New("stream closed")
)

// chunk is one streamed /v1/chat/completions event.
type chunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content string `json:"content"`
			// A reasoning model's thinking: LM Studio and most
			// OpenAI-compatible servers send reasoning_content, some
			// reasoning.
			ReasoningContent string `json:"reasoning_content"`
			Reasoning        string `json:"reasoning"`
			ToolCalls        []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *apiError `json:"error"`
}

// partialCall accumulates a tool call whose name and arguments arrive in pieces.
type partialCall struct {
	id, name string
	args     []byte
}

// chatStream turns an SSE body into llm.Events.
type chatStream struct {
	parent context.Context // the caller's: its cancellation is reported as such
	ctx    context.Context // the request's, cancelled by Close or the idle timer
	cancel context.CancelCauseFunc
	srv    *server
	body   io.ReadCloser
	sse    *sseReader
	timer  *time.Timer
	idle   time.Duration

	start   time.Time
	ttft    time.Duration
	model   string
	finish  string
	prompt  int
	compl   int
	calls   []partialCall
	pending []llm.Event
	pos     int

	chunk    chunk         // reused by decode
	feed     bytes.Reader  // the current event's data, read by dec
	dec      *json.Decoder // kept across events for its scanner
	leftover int           // bytes of the previous event dec has not consumed (whitespace)
	err      error         // sticky: io.EOF after EventDone, or what ended the stream
}

func newChatStream(parent, ctx context.Context, cancel context.CancelCauseFunc, srv *server, body io.ReadCloser, idle time.Duration, start time.Time, model string) *chatStream {
	s := &chatStream{parent: parent, ctx: ctx, cancel: cancel, srv: srv, body: body, idle: idle, start: start, model: model}
	s.timer = time.AfterFunc(idle, func() { cancel(errStalled) })
	s.sse = newSSEReader(&idleReader{r: body, timer: s.timer, idle: idle})
	return s
}

// idleReader runs the stall timer only while a Read waits for the server:
// any bytes, keep-alive comments included, end the wait, and a caller that
// takes its time between events is never mistaken for a stalled server.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.timer.Reset(r.idle)
	n, err := r.r.Read(p)
	r.timer.Stop()
	return n, err
}

// Next returns the next event; see llm.Stream.
func (s *chatStream) Next() (llm.Event, error) {
	for {
		if s.pos < len(s.pending) {
			ev := s.pending[s.pos]
			s.pending[s.pos] = llm.Event{}
			s.pos++
			return ev, nil
		}
		if s.err != nil {
			return llm.Event{}, s.err
		}
		s.pending, s.pos = s.pending[:0], 0
		if err := s.step(); err != nil {
			s.err = err
			s.release(err)
		}
	}
}

// Close ends the stream and its request.
func (s *chatStream) Close() error {
	if s.err == nil {
		s.err = fmt.Errorf("chat: %w", errClosed)
	}
	s.release(errClosed)
	return nil
}

func (s *chatStream) release(cause error) {
	s.timer.Stop()
	s.cancel(cause)
	s.body.Close()
}

// step reads one SSE event and queues the events it yields. It returns
// io.EOF once EventDone is queued, or the error that ends the stream.
func (s *chatStream) step() error {
	event, data, err := s.sse.next()
	if errors.Is(err, io.EOF) {
		// LM Studio and Ollama both end with [DONE]; a server that stops right
		// after finish_reason has still finished the answer.
		if s.finish != "" {
			s.queueDone()
			return io.EOF
		}
		return &llm.Error{Kind: llm.ErrStreamTruncated, Msg: fmt.Sprintf(
			"%s at %s ended the answer before finishing it; try again", s.srv.label, s.srv.endpoint)}
	}
	if err != nil {
		return s.readError(err)
	}
	if string(data) == "[DONE]" {
		s.flushCalls()
		s.queueDone()
		return io.EOF
	}
	c, err := s.decode(data)
	if err != nil {
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s sent an unreadable piece of the answer", s.srv.label, s.srv.endpoint), Cause: err}
	}
	if c.Error != nil || string(event) == "error" {
		msg := "no message"
		if c.Error != nil {
			msg = c.Error.Message
		}
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s failed in the middle of the answer; its log (%s) says why", s.srv.label, s.srv.endpoint, s.srv.logHint),
			Cause: errorText(msg)}
	}
	if c.Model != "" {
		s.model = c.Model
	}
	if c.Usage != nil {
		s.prompt, s.compl = c.Usage.PromptTokens, c.Usage.CompletionTokens
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // Mai never asks for n > 1
		}
		if th := ch.Delta.ReasoningContent + ch.Delta.Reasoning; th != "" {
			s.firstToken()
			s.pending = append(s.pending, llm.Event{Kind: llm.EventThinking, Text: th})
		}
		if ch.Delta.Content != "" {
			s.firstToken()
			s.pending = append(s.pending, llm.Event{Kind: llm.EventText, Text: ch.Delta.Content})
		}
		for _, tc := range ch.Delta.ToolCalls {
			s.firstToken()
			s.addCallPiece(tc.Index, tc.ID, tc.Function.Name, tc.Function.Arguments)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.finish = *ch.FinishReason
			s.flushCalls()
		}
	}
	return nil
}

// decode parses one event's data into s.chunk. The chunk and the decoder
// (with its scanner) are reused from event to event: a json.Unmarshal per
// token costs allocations that a stream repeats hundreds of times.
func (s *chatStream) decode(data []byte) (*chunk, error) {
	c := &s.chunk
	choices := c.Choices[:cap(c.Choices)]
	clear(choices)
	*c = chunk{Choices: choices[:0]}
	if s.dec == nil {
		s.dec = json.NewDecoder(&s.feed)
	}
	s.feed.Reset(data)
	start := s.dec.InputOffset()
	if err := s.dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty event; io.EOF must not leak out as the stream's end.
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	// The decoder consumed the whitespace left over from the previous event,
	// then this event's leading whitespace and value. What follows the value
	// must be whitespace too: one JSON value per event.
	used := int(s.dec.InputOffset()-start) - s.leftover
	if used < 0 || used > len(data) || len(bytes.TrimSpace(data[used:])) > 0 {
		return nil, errors.New("an event holds more than one JSON value")
	}
	s.leftover = len(data) - used
	return c, nil
}

func (s *chatStream) firstToken() {
	if s.ttft == 0 {
		s.ttft = time.Since(s.start)
	}
}

// addCallPiece appends a streamed fragment to the call at index. Servers send
// the id and name once, in the first fragment, and the arguments in pieces.
func (s *chatStream) addCallPiece(index int, id, name, args string) {
	if index < 0 || index > 1024 {
		index = len(s.calls)
	}
	for len(s.calls) <= index {
		s.calls = append(s.calls, partialCall{})
	}
	pc := &s.calls[index]
	if id != "" {
		pc.id = id
	}
	if name != "" {
		pc.name = name
	}
	pc.args = append(pc.args, args...)
}

// flushCalls queues the accumulated tool calls as complete events. Arguments
// that are not valid JSON (a small model's mistake) are passed on as a JSON
// string so that the message can still be stored and sent back.
func (s *chatStream) flushCalls() {
	for _, pc := range s.calls {
		if pc.name == "" && len(pc.args) == 0 {
			continue
		}
		args := json.RawMessage(pc.args)
		switch {
		case len(args) == 0:
			args = json.RawMessage("{}")
		case !json.Valid(args):
			args, _ = json.Marshal(string(pc.args))
		}
		s.pending = append(s.pending, llm.Event{Kind: llm.EventToolCall, ToolCall: llm.ToolCall{ID: pc.id, Name: pc.name, Arguments: args}})
	}
	s.calls = s.calls[:0]
}

func (s *chatStream) queueDone() {
	total := time.Since(s.start)
	st := llm.Stats{
		Model:            s.model,
		FinishReason:     s.finish,
		PromptTokens:     s.prompt,
		CompletionTokens: s.compl,
		TotalDuration:    total,
		TimeToFirstToken: s.ttft,
	}
	if s.ttft > 0 {
		st.PromptDuration = s.ttft
		st.EvalDuration = total - s.ttft
	}
	if st.EvalDuration > 0 && s.compl > 0 {
		st.TokensPerSecond = float64(s.compl) / st.EvalDuration.Seconds()
	}
	s.pending = append(s.pending, llm.Event{Kind: llm.EventDone, Stats: st})
}

// readError explains a failed read of the body.
func (s *chatStream) readError(err error) error {
	if perr := s.parent.Err(); perr != nil {
		return fmt.Errorf("chat: %w", perr)
	}
	switch context.Cause(s.ctx) {
	case errStalled:
		return s.srv.stalled(s.idle)
	case errClosed:
		return fmt.Errorf("chat: %w", errClosed)
	}
	return &llm.Error{Kind: llm.ErrStreamTruncated, Msg: fmt.Sprintf(
		"%s at %s broke off the answer; try again", s.srv.label, s.srv.endpoint), Cause: err}
}

// stalled is the error for a server that went silent for the idle timeout.
func (s *server) stalled(idle time.Duration) error {
	return &llm.Error{Kind: llm.ErrStreamTruncated, Msg: fmt.Sprintf(
		"%s at %s sent nothing for %s and the answer was given up on; check its log (%s)",
		s.label, s.endpoint, idle, s.logHint)}
}
