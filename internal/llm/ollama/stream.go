package ollama

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// maxLine bounds one NDJSON line; a tool call with large arguments fits, a
// server that never sends a newline does not exhaust memory.
const maxLine = 8 << 20

// chatLine is one NDJSON line of /api/chat. Fields Mai does not read are left
// out so decoding them costs nothing; Model stays raw so that it is copied
// only for the final line.
type chatLine struct {
	Model   json.RawMessage `json:"model"`
	Message struct {
		Content   string         `json:"content"`
		Thinking  string         `json:"thinking"`
		ToolCalls []wireToolCall `json:"tool_calls"`
	} `json:"message"`
	Done               bool            `json:"done"`
	DoneReason         string          `json:"done_reason"`
	TotalDuration      int64           `json:"total_duration"`
	LoadDuration       int64           `json:"load_duration"`
	PromptEvalCount    int             `json:"prompt_eval_count"`
	PromptEvalDuration int64           `json:"prompt_eval_duration"`
	EvalCount          int             `json:"eval_count"`
	EvalDuration       int64           `json:"eval_duration"`
	Error              json.RawMessage `json:"error"`
}

// reset clears the line for the next one, keeping the model buffer. Tool
// calls are rare and not reused: json would decode into the old elements
// and keep fields a new call leaves out.
func (l *chatLine) reset() {
	*l = chatLine{Model: l.Model[:0]}
}

// stream reads /api/chat NDJSON into llm events.
type stream struct {
	c      *Client
	ctx    context.Context // the request's; cancelled by Close, the caller or the idle timer
	cancel context.CancelCauseFunc
	body   io.ReadCloser
	r      *bufio.Reader
	idle   *time.Timer
	start  time.Time

	line    chatLine
	long    []byte  // a line longer than the reader's buffer
	pending []Event // events of the current line not yet returned
	next    int
	ttft    time.Duration
	calls   int
	done    bool  // the final line was read
	err     error // sticky: returned by every later Next
}

// Event is llm.Event, named here for brevity.
type Event = llm.Event

func newStream(c *Client, ctx context.Context, cancel context.CancelCauseFunc, body io.ReadCloser, start time.Time) *stream {
	s := &stream{c: c, ctx: ctx, cancel: cancel, body: body, r: bufio.NewReaderSize(body, 16<<10), start: start}
	// The idle timer runs only while Next waits for the server, so a
	// consumer that pauses between events is not mistaken for a stall.
	s.idle = time.AfterFunc(c.idle, func() { cancel(errStalled) })
	s.idle.Stop()
	return s
}

// Next returns the next event; see llm.Stream.
func (s *stream) Next() (Event, error) {
	for {
		if s.next < len(s.pending) {
			ev := s.pending[s.next]
			s.pending[s.next] = Event{} // drop references to the text
			s.next++
			return ev, nil
		}
		if s.err != nil {
			return Event{}, s.err
		}
		if s.done {
			s.err = io.EOF
			return Event{}, io.EOF
		}
		s.pending, s.next = s.pending[:0], 0
		s.idle.Reset(s.c.idle)
		line, err := s.readLine()
		s.idle.Stop()
		if err != nil {
			s.fail(err)
			continue
		}
		if err := s.parse(line); err != nil {
			s.fail(err)
		}
	}
}

// fail records the error that ends the stream and releases the connection.
func (s *stream) fail(err error) {
	if s.err == nil {
		s.err = err
	}
	s.release()
}

func (s *stream) release() {
	s.idle.Stop()
	s.cancel(nil)
	_ = s.body.Close()
}

// Close ends the stream and closes the HTTP request.
func (s *stream) Close() error {
	switch {
	case s.err != nil:
	case s.done:
		s.err = io.EOF
	default:
		s.err = fmt.Errorf("ollama chat: %w", errClosed)
	}
	s.release()
	return nil
}

var errClosed = errors.New("stream closed")

// readLine returns the next non-empty line without its newline.
func (s *stream) readLine() ([]byte, error) {
	for {
		line, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.long = append(s.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(s.long) > maxLine {
					return nil, s.c.bad("sent a line longer than %d bytes in the chat stream", maxLine)
				}
				line, err = s.r.ReadSlice('\n')
				s.long = append(s.long, line...)
			}
			line = s.long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, s.readError(err)
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) > 0 {
			// A last line without its newline is still parsed: if it is
			// the final object it is complete, if not parse says so.
			return trimmed, nil
		}
		if err != nil { // io.EOF with nothing left
			return nil, s.eof()
		}
	}
}

// readError explains a failed body read: the caller's cancellation, the
// idle timeout, or a broken connection.
func (s *stream) readError(err error) error {
	if s.ctx.Err() != nil {
		cause := context.Cause(s.ctx)
		if errors.Is(cause, errStalled) {
			return &llm.Error{Kind: llm.ErrStreamTruncated, Msg: fmt.Sprintf("%s stopped sending the answer for %s — is the machine overloaded?", s.c.who(), s.c.idle), Cause: cause}
		}
		return fmt.Errorf("ollama chat: %w", cause)
	}
	return &llm.Error{Kind: llm.ErrStreamTruncated, Msg: s.c.who() + " broke off the answer (the server may have stopped or crashed)", Cause: err}
}

func (s *stream) eof() error {
	return &llm.Error{Kind: llm.ErrStreamTruncated, Msg: s.c.who() + " ended the answer before it was done (the server may have stopped or crashed)"}
}

// parse turns one line into pending events.
func (s *stream) parse(b []byte) error {
	if content, ok := fastLine(b); ok {
		if content != "" {
			s.firstToken()
			s.pending = append(s.pending, Event{Kind: llm.EventText, Text: content})
		}
		return nil
	}
	s.line.reset()
	if err := json.Unmarshal(b, &s.line); err != nil {
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf("%s sent a malformed line in the chat stream: %s", s.c.who(), snippet(b)), Cause: err}
	}
	l := &s.line
	if len(l.Error) > 0 && string(l.Error) != "null" {
		var msg string
		if json.Unmarshal(l.Error, &msg) != nil {
			msg = string(l.Error)
		}
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf("%s failed mid-answer: %s", s.c.who(), msg)}
	}
	if l.Message.Thinking != "" {
		s.firstToken()
		s.pending = append(s.pending, Event{Kind: llm.EventThinking, Text: l.Message.Thinking})
	}
	if l.Message.Content != "" {
		s.firstToken()
		s.pending = append(s.pending, Event{Kind: llm.EventText, Text: l.Message.Content})
	}
	for _, tc := range l.Message.ToolCalls {
		s.firstToken()
		args := json.RawMessage(bytes.Clone(tc.Function.Arguments))
		if len(args) == 0 || string(args) == "null" {
			args = json.RawMessage("{}")
		}
		s.calls++
		s.pending = append(s.pending, Event{Kind: llm.EventToolCall, ToolCall: llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: args}})
	}
	if l.Done {
		s.done = true
		s.pending = append(s.pending, Event{Kind: llm.EventDone, Stats: s.stats()})
		// Read the end of the response so the connection can be reused,
		// then release it: nothing more is needed from the server.
		_, _ = io.Copy(io.Discard, io.LimitReader(s.r, 64<<10))
		s.release()
	}
	return nil
}

func (s *stream) firstToken() {
	if s.ttft == 0 {
		s.ttft = time.Since(s.start)
	}
}

func (s *stream) stats() llm.Stats {
	l := &s.line
	var model string
	_ = json.Unmarshal(l.Model, &model)
	st := llm.Stats{
		Model:            model,
		FinishReason:     l.DoneReason,
		PromptTokens:     l.PromptEvalCount,
		CompletionTokens: l.EvalCount,
		LoadDuration:     time.Duration(l.LoadDuration),
		PromptDuration:   time.Duration(l.PromptEvalDuration),
		EvalDuration:     time.Duration(l.EvalDuration),
		TotalDuration:    time.Duration(l.TotalDuration),
		TimeToFirstToken: s.ttft,
	}
	// Ollama says "stop" when the model stopped to call tools.
	if s.calls > 0 && (st.FinishReason == "stop" || st.FinishReason == "") {
		st.FinishReason = "tool_calls"
	}
	if l.EvalDuration > 0 {
		st.TokensPerSecond = float64(l.EvalCount) / time.Duration(l.EvalDuration).Seconds()
	}
	return st
}
