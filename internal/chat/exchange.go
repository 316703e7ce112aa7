package chat

import (
	"context"

	"github.com/maicompanion/mai/internal/memory"
)

// lastExchange returns the current conversation, its messages and the
// index of its last user message.
func (c *Core) lastExchange(ctx context.Context, s *session) (int64, []memory.Message, int, error) {
	conv, err := c.conversation(ctx, s)
	if err != nil {
		return 0, nil, 0, err
	}
	ms, err := c.cfg.Memory.Messages(ctx, conv, 0, 0)
	if err != nil {
		return 0, nil, 0, err
	}
	last := -1
	for i, m := range ms {
		if m.Role == memory.RoleUser {
			last = i
		}
	}
	if last < 0 {
		return 0, nil, 0, errNoMessage
	}
	return conv, ms, last, nil
}

// ForgetLast deletes user's last exchange from memory: the latest message
// and everything after it (the answer, its tool turns). Front ends call it
// when the owner deletes or edits that message; it waits for a running
// answer to end first.
func (c *Core) ForgetLast(ctx context.Context, user string) error {
	s := c.session(user)
	select {
	case s.gen <- struct{}{}:
		defer func() { <-s.gen }()
	case <-ctx.Done():
		return ctx.Err()
	}
	conv, ms, last, err := c.lastExchange(ctx, s)
	if err != nil {
		return err
	}
	ids := make([]int64, 0, len(ms)-last)
	for _, m := range ms[last:] {
		ids = append(ids, m.ID)
	}
	return c.cfg.Memory.DeleteMessages(ctx, conv, ids)
}
