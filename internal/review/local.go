package review

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/maicompanion/mai/internal/llm"
)

// Chatter is the router's surface the local reviewer needs.
type Chatter interface {
	Chat(ctx context.Context, req llm.Request) (llm.Stream, error)
}

// Local is the default reviewer: the active local model through the
// router, with the answer constrained to Schema.
type Local struct {
	Chat Chatter
	// Model is sent as the request's model: empty through the router
	// (which picks the active model), a name when Chat is a backend.
	Model string
	// MaxTokens bounds the answer; default 512.
	MaxTokens int
}

// Name implements Model.
func (l Local) Name() string { return "local model (router)" }

// Ask implements Model.
func (l Local) Ask(ctx context.Context, system, prompt string) (string, error) {
	maxTokens := l.MaxTokens
	if maxTokens <= 0 {
		maxTokens = 512
	}
	zero := 0.0
	s, err := l.Chat.Chat(ctx, llm.Request{
		Model:    l.Model,
		Messages: []llm.Message{{Role: llm.RoleSystem, Content: system}, {Role: llm.RoleUser, Content: prompt}},
		Format:   Schema,
		Options:  llm.Options{MaxTokens: maxTokens, Temperature: &zero},
	})
	if err != nil {
		return "", fmt.Errorf("ask the local model: %w", err)
	}
	defer s.Close()
	var b strings.Builder
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), fmt.Errorf("read the local model's answer: %w", err)
		}
		switch ev.Kind {
		case llm.EventText:
			b.WriteString(ev.Text)
		case llm.EventRestart:
			b.Reset()
		}
	}
}
