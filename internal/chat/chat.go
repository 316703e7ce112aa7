// Package chat is the conversation core that every front end (the terminal,
// the control socket, Discord) uses unchanged: one session per user, a turn
// that stores the message, assembles the context memory offers within the
// window of the model the router will use, streams the answer, runs the
// tools the model asks for through the sandbox's gate, and stores the answer
// with its model and statistics. Front ends only translate Events.
package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/sandbox"
)

// Defaults of Config.
const (
	DefaultMaxToolCalls  = 5
	DefaultFactsEvery    = 6
	DefaultMaxInputBytes = 16 << 10
)

// Models is what the core needs from the model router.
type Models interface {
	// Target returns the model the next chat will answer with and the
	// context length it is loaded with, choosing one when none is active.
	// tools says the request carries tools, so a tool-capable model is
	// preferred.
	Target(ctx context.Context, tools bool) (Target, error)
	// ChatWith streams an answer from the model the router chooses. build
	// is called with that model, loaded, before the stream starts, and
	// again for the model a failover moves to (the stream then yields an
	// llm.EventRestart); it returns the request, assembled for the model's
	// context. tools says the request carries tools, so that a
	// tool-capable model is preferred (a notice says when none can answer).
	// need says what the request needs of the model: tools, so that a
	// tool-capable model is preferred (a notice says when none can
	// answer); vision, so that only a model that can see images answers.
	ChatWith(ctx context.Context, need Need, build func(Target) (llm.Request, error)) (llm.Stream, error)
	// Sees reports whether a model that can see images is installed.
	Sees(ctx context.Context) (bool, error)
	// Switch makes the named model the active one.
	Switch(ctx context.Context, ref string) error
	// List returns the installed chat models' names, the active one marked.
	List(ctx context.Context) ([]string, error)
	// Pause unloads the models Mai loaded and returns how many.
	Pause(ctx context.Context) (int, error)
}

// Need is what a request needs of the model that answers it.
type Need struct {
	Tools  bool // it carries tools
	Vision bool // it carries images
}

// Target is the model a chat goes to.
type Target struct {
	Ref    string // "ollama:llama3.2:3b"
	Window int    // the context length it is loaded with
	Tools  bool   // it accepts tool definitions
}

// CodeRunner is the sandbox's gate: every job it runs was judged by the
// risk analyser first, HIGH ones approved, BLOCKED ones refused.
type CodeRunner interface {
	Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error)
	// EnsureImage pulls the sandbox's image unless the engine has it,
	// reporting progress.
	EnsureImage(ctx context.Context, img string, report func(sandbox.PullProgress)) error
}

// Availability is what a CodeRunner that can be away for a while (the
// daemon's sandbox while Docker is down) implements: Unavailable says why
// code cannot run now, nil when it can. /run then answers that reason
// instead of failing, and run_code tells the model.
type Availability interface {
	Unavailable() error
}

// ChangeProposer sends a change to Mai's workspace through the
// self-modification pipeline (risk, review, checks, the owner's approval,
// a commit); the propose_change tool calls it.
type ChangeProposer interface {
	// ProposeChange returns what the model is told: the proposal's id and
	// where it stands, or why it was refused.
	ProposeChange(ctx context.Context, c ChangeRequest) (string, error)
}

// ChangeRequest is a change the model proposes.
type ChangeRequest struct {
	Subject   string
	Rationale string
	Files     []ChangeFile
	Request   string // the owner's message that asked for it
	MessageID int64  // that message's id
}

// ChangeFile is one file of a ChangeRequest: its new content, or its removal.
type ChangeFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
	Delete  bool   `json:"delete"`
}

// Config is what a Core works with.
type Config struct {
	Models Models
	Memory *memory.Store
	// Persona returns the system prompt (the workspace's persona.md).
	Persona func() (string, error)
	// Code runs code; nil turns run_code and /run off.
	Code CodeRunner
	// Changes proposes changes to the workspace; nil turns propose_change off.
	Changes ChangeProposer
	// Channel names the front end in stored conversations ("terminal").
	Channel string
	// MaxToolCalls bounds the tool calls of one turn; DefaultMaxToolCalls when 0.
	MaxToolCalls int
	// FoldAhead folds old turns into a summary after an answer, when the
	// next exchange would not fit beside them (memory.Store.FoldAhead),
	// instead of before the next answer, where the owner waits for it.
	FoldAhead bool
	// FactsEvery is how many user turns pass between fact extractions;
	// DefaultFactsEvery when 0, never when negative.
	FactsEvery int
	// ShowThinking streams the model's reasoning as EventThinking text.
	ShowThinking bool
	// MaxInputBytes truncates longer messages; DefaultMaxInputBytes when 0.
	MaxInputBytes int
	// MaxTokens bounds each answer; 0 lets the model decide.
	MaxTokens int
	// Decide records the owner's decision on a persisted approval request
	// shown with Ask (bound to the payload hash shown), checking pin when a
	// PIN is stored. Nil when the gate's approver is Core.Approve.
	Decide func(ctx context.Context, a Approval, approved bool, pin string) error
	// Pin, when set, is what /switch does: switch to ref and pin it as the
	// owner's choice, recorded in the audit log, returning the pinned ref
	// ("" unpins) — the very step of `mai models switch`. Without it
	// /switch only makes ref the router's active model.
	Pin func(ctx context.Context, ref string) (string, error)
	// CheckPIN checks the PIN a command that changes state came with (see
	// NeedsPIN) when one is stored, returning an error wrapping
	// ErrPINRequired when it is missing or wrong; nil asks for none.
	CheckPIN func(ctx context.Context, pin string) error
	// AuditHead is /audit: the audit log's head as SEQ:HASH, and where a
	// copy of it was sent ("" when nowhere); nil turns /audit off.
	AuditHead func(ctx context.Context) (head, sentTo string, err error)
	// Forgot records that user had memory forgotten for real (/forget, a
	// deleted or edited DM, 🗑): what ("conversation:ID", "fact:ID",
	// "exchange:ID", "all") and counts. The forgetting is done when it is
	// called; an error it returns is told to the user. Nil records nothing.
	Forgot func(ctx context.Context, user, what string, details map[string]any) error
	Log    zerolog.Logger
}

// Core holds every user's session. It is safe for concurrent use.
type Core struct {
	cfg Config

	mu       sync.Mutex
	sessions map[string]*session
	paused   bool
	imageOK  bool // the sandbox image is on the engine
}

// ErrEmpty is returned for a message with nothing in it.
var ErrEmpty = errors.New("the message is empty")

// New returns a core.
func New(cfg Config) (*Core, error) {
	if cfg.Models == nil || cfg.Memory == nil {
		return nil, errors.New("chat: a model router and a memory store are required")
	}
	if cfg.MaxToolCalls <= 0 {
		cfg.MaxToolCalls = DefaultMaxToolCalls
	}
	if cfg.FactsEvery == 0 {
		cfg.FactsEvery = DefaultFactsEvery
	}
	if cfg.MaxInputBytes <= 0 {
		cfg.MaxInputBytes = DefaultMaxInputBytes
	}
	if cfg.Persona == nil {
		cfg.Persona = func() (string, error) { return "", nil }
	}
	if cfg.Channel == "" {
		cfg.Channel = "terminal"
	}
	return &Core{cfg: cfg, sessions: map[string]*session{}}, nil
}

// session is one user's conversation state.
type session struct {
	user string
	gen  chan struct{} // holds a token while a generation runs

	mu        sync.Mutex
	conv      int64
	cancel    context.CancelFunc   // of the running generation
	emit      func(Event)          // of the running generation, for approvals
	waiting   int                  // messages queued behind it
	userTurns int                  // since the last fact extraction
	approvals map[string]chan bool // asked inline by Approve
	asked     map[string]Approval  // shown by Ask
	maxTokens int                  // of the running generation
	last      Stats                // of the last answer, for /status
	confirm   bool                 // /forget all was asked once
	// lastContext is how the last answer's context was asked for, for
	// FoldAhead once it is stored; not set by a reply to an earlier point.
	lastContext memory.ContextRequest
	// toldNoTools is the last model the owner was told takes no tools.
	toldNoTools string
}

func (c *Core) session(user string) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[user]
	if s == nil {
		s = &session{user: user, gen: make(chan struct{}, 1), approvals: map[string]chan bool{}, asked: map[string]Approval{}}
		c.sessions[user] = s
	}
	return s
}

// Message is one message from a user.
type Message struct {
	User string `json:"user"`
	Text string `json:"text"`
	// MaxTokens bounds the answer; 0 takes Config.MaxTokens.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Model, when set, makes that model the active one before the message
	// is handled, without pinning it (mai chat --model).
	Model string `json:"model,omitempty"`
	// PIN is the owner's PIN, for commands that change state when a PIN is
	// stored. It is never serialised: the control socket carries it in a
	// header.
	PIN string `json:"-"`
	// ReplyTo is the stored message (its id in memory) this one replies
	// to, when the front end knows it: the answer then continues from that
	// point, with the reply chain as its context instead of the
	// conversation's latest turns.
	ReplyTo int64 `json:"reply_to,omitempty"`
	// Images go to a model that can see them with the message; memory
	// keeps a note of them, not the images.
	Images []Image `json:"images,omitempty"`
}

// Send handles one message: a command when it starts with "/", otherwise a
// turn. Events go to emit as they happen, from the calling
// goroutine or, for approvals, from the one running the code. A message
// that arrives while the user's previous one is being answered waits for
// it. The error returned is also emitted as an EventError.
func (c *Core) Send(ctx context.Context, m Message, emit func(Event)) error {
	if strings.TrimSpace(m.User) == "" {
		return errors.New("chat: no user")
	}
	s := c.session(m.User)
	text := m.Text
	trimmed := strings.TrimSpace(text)
	var err error
	switch {
	case m.Model != "":
		// A message that only names a model just switches.
		if err = c.useModel(ctx, m); err == nil && (trimmed != "" || len(m.Images) > 0) {
			m.Model = ""
			return c.Send(ctx, m, emit)
		}
	case trimmed == "" && len(m.Images) == 0:
		err = fmt.Errorf("%w: type something to say, or /help", ErrEmpty)
	case strings.HasPrefix(trimmed, "/") && len(m.Images) == 0:
		err = c.command(ctx, s, trimmed, m, emit)
	default:
		err = c.generate(ctx, s, m.MaxTokens, emit, func(ctx context.Context) error { return c.turn(ctx, s, m, emit) })
	}
	if err != nil {
		emit(Event{Kind: EventError, Text: err.Error()})
	}
	return err
}

// generate runs fn as the user's one generation: it waits for the running
// one (saying so), and makes fn's context the one /stop cancels.
func (c *Core) generate(ctx context.Context, s *session, maxTokens int, emit func(Event), fn func(context.Context) error) error {
	select {
	case s.gen <- struct{}{}:
	default:
		s.mu.Lock()
		s.waiting++
		s.mu.Unlock()
		emit(Event{Kind: EventNotice, Text: "queued: Mai answers this after the current answer"})
		select {
		case s.gen <- struct{}{}:
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
		case <-ctx.Done():
			s.mu.Lock()
			s.waiting--
			s.mu.Unlock()
			return ctx.Err()
		}
	}
	defer func() { <-s.gen }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cancel, s.emit = cancel, emit
	s.maxTokens = c.cfg.MaxTokens
	if maxTokens > 0 {
		s.maxTokens = maxTokens
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cancel, s.emit = nil, nil
		s.mu.Unlock()
	}()
	c.mu.Lock()
	paused := c.paused
	c.mu.Unlock()
	if paused {
		emit(Event{Kind: EventNotice, Text: "paused: Mai's models are unloaded; /resume to talk again"})
		return nil
	}
	return fn(context.WithValue(ctx, turnKey{}, s))
}

// Stop cancels the user's running generation; it reports whether one ran.
func (c *Core) Stop(user string) bool {
	s := c.session(user)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return false
	}
	s.cancel()
	return true
}

// conversation returns the session's conversation: the user's latest, or
// a new one.
func (c *Core) conversation(ctx context.Context, s *session) (int64, error) {
	s.mu.Lock()
	id := s.conv
	s.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	conv, err := c.cfg.Memory.LatestConversation(ctx, s.user)
	switch {
	case err == nil:
		id = conv.ID
	case errors.Is(err, memory.ErrNotFound):
		if id, err = c.cfg.Memory.StartConversation(ctx, s.user, c.cfg.Channel); err != nil {
			return 0, err
		}
	default:
		return 0, err
	}
	s.mu.Lock()
	s.conv = id
	s.mu.Unlock()
	return id, nil
}

// HistoryChanged tells the core that user's stored history (every user's
// for "") changed outside the conversation — forgotten or imported by the
// memory commands — so that each session finds its conversation again
// before its next turn instead of writing to one that is gone.
func (c *Core) HistoryChanged(user string) {
	c.mu.Lock()
	var ss []*session
	for u, s := range c.sessions {
		if user == "" || u == user {
			ss = append(ss, s)
		}
	}
	c.mu.Unlock()
	for _, s := range ss {
		s.mu.Lock()
		s.conv, s.confirm = 0, false
		s.mu.Unlock()
	}
}

// Conversation returns the id of the user's current conversation, starting
// one when the user has none.
func (c *Core) Conversation(ctx context.Context, user string) (int64, error) {
	return c.conversation(ctx, c.session(user))
}
