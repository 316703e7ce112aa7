package chat

import (
	"context"
	"errors"
	"strings"
)

// Redo answers m again after a front end lost its answer (a crash before
// the answer was shown in full): when m is still the user's last message
// in the conversation, the answer is regenerated and m is not stored a
// second time; when it is not (the crash came before it was stored), m is
// answered as a new message. A command is simply sent again.
func (c *Core) Redo(ctx context.Context, m Message, emit func(Event)) error {
	trimmed := strings.TrimSpace(m.Text)
	if strings.TrimSpace(m.User) == "" || trimmed == "" || strings.HasPrefix(trimmed, "/") {
		return c.Send(ctx, m, emit)
	}
	s := c.session(m.User)
	err := c.generate(ctx, s, m.MaxTokens, emit, func(ctx context.Context) error {
		err := c.regenerateIf(ctx, s, func(last string) bool { return c.sameMessage(last, m.Text) }, emit)
		if errors.Is(err, errNotLast) || errors.Is(err, errNoMessage) {
			return c.turn(ctx, s, m, emit)
		}
		return err
	})
	if err != nil {
		emit(Event{Kind: EventError, Text: err.Error()})
	}
	return err
}

// sameMessage reports whether stored is how text was stored: itself, or
// its start when it was over MaxInputBytes, with the notes of its images
// after it (a front end does not keep images across a restart).
func (c *Core) sameMessage(stored, text string) bool {
	stored = withoutImageNotes(stored)
	if stored == text {
		return true
	}
	return len(text) > c.cfg.MaxInputBytes && stored != "" && strings.HasPrefix(text, stored)
}
