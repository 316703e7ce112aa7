package memory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// Chatter starts a streamed chat answer; the router satisfies it, choosing
// the model.
type Chatter interface {
	Chat(ctx context.Context, req llm.Request) (llm.Stream, error)
}

// ModelSummarizer writes summaries with a chat model through a Chatter (in
// Mai, the router's current model). After a few failures in a row it stops
// asking for a while, so a pass over many days with no backend answering
// falls back to extraction at once instead of waiting on each day.
type ModelSummarizer struct {
	chat Chatter
	// Timeout bounds one summary; default 2 minutes.
	Timeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu       sync.Mutex
	failures int
	until    time.Time
}

// Summariser back-off: after maxFailures failures in a row, no request for
// pause.
const (
	maxFailures = 3
	pause       = 10 * time.Minute
)

// ErrSummarizerPaused means the model failed several times in a row
// recently and is not asked again yet.
var ErrSummarizerPaused = errors.New("summary model failed repeatedly; paused")

// NewModelSummarizer returns a Summarizer over chat.
func NewModelSummarizer(chat Chatter) *ModelSummarizer {
	return &ModelSummarizer{chat: chat}
}

// Summarize asks the model for req's summary (SummaryPrompt) and returns its
// answer and the model that wrote it.
func (m *ModelSummarizer) Summarize(ctx context.Context, req SummaryRequest) (string, string, error) {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	m.mu.Lock()
	paused := now().Before(m.until)
	m.mu.Unlock()
	if paused {
		return "", "", ErrSummarizerPaused
	}
	text, model, err := m.ask(ctx, req)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		if m.failures++; m.failures >= maxFailures {
			m.failures, m.until = 0, now().Add(pause)
		}
		return "", "", err
	}
	m.failures = 0
	return text, model, err
}

func (m *ModelSummarizer) ask(ctx context.Context, req SummaryRequest) (string, string, error) {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	system, user := SummaryPrompt(req)
	temp := 0.2 // faithful rather than inventive
	r := llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: system}, {Role: llm.RoleUser, Content: user}}}
	r.Options.Temperature = &temp
	// The model counts tokens its own way; Store.summarize trims the answer
	// to the budget in Mai's count.
	r.Options.MaxTokens = 2 * max(req.MaxTokens, 32)
	s, err := m.chat.Chat(ctx, r)
	if err != nil {
		return "", "", fmt.Errorf("summarise: %w", err)
	}
	msg, stats, err := llm.Collect(s)
	if err != nil {
		return "", "", fmt.Errorf("summarise: %w", err)
	}
	text := strings.TrimSpace(msg.Content)
	if text == "" {
		return "", "", errors.New("summarise: the model answered with nothing")
	}
	return text, stats.Model, nil
}
