package chat

import (
	"context"
	"errors"
	"fmt"

	"github.com/maicompanion/mai/internal/memory"
)

// ErrNoExchange says a message a front end names is not in the user's
// memory: never stored, or forgotten already.
var ErrNoExchange = errors.New("that exchange is not in Mai's memory (forgotten already?)")

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

// lockGen waits for user's running answer to end and holds the session's
// generation token until the returned func is called.
func (c *Core) lockGen(ctx context.Context, user string) (*session, func(), error) {
	s := c.session(user)
	select {
	case s.gen <- struct{}{}:
		return s, func() { <-s.gen }, nil
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// forgetLast forgets the session's last exchange for real (/forget last),
// once a running answer has ended, and returns the id of its user message.
func (c *Core) forgetLast(ctx context.Context, s *session) (int64, error) {
	_, unlock, err := c.lockGen(ctx, s.user)
	if err != nil {
		return 0, err
	}
	defer unlock()
	_, ms, last, err := c.lastExchange(ctx, s)
	if errors.Is(err, errNoMessage) {
		return 0, errors.New("there is no message of yours in this conversation to forget")
	}
	if err != nil {
		return 0, err
	}
	_, err = c.forgetExchange(ctx, s, ms[last].ID)
	return ms[last].ID, err
}

// ForgetExchange deletes from memory, for real, the exchange that the
// stored message id (a user's message, or an answer or tool turn of one)
// belongs to: the user's message and everything stored after it up to
// their next message. Front ends call it when the owner deletes or edits
// that message; it waits for a running answer to end first. It returns
// the stored message the exchange continued from, where an edited
// message is answered again (Message.ReplyTo): the message it replied
// to, else the one before it; 0 when it was the conversation's last
// exchange and replied to nothing, so that the end is where to go on.
// ErrNoExchange when id is not one of user's stored messages.
func (c *Core) ForgetExchange(ctx context.Context, user string, id int64) (int64, error) {
	s, unlock, err := c.lockGen(ctx, user)
	if err != nil {
		return 0, err
	}
	defer unlock()
	return c.forgetExchange(ctx, s, id)
}

func (c *Core) forgetExchange(ctx context.Context, s *session, id int64) (int64, error) {
	one, err := c.cfg.Memory.Branch(ctx, id, 1)
	if errors.Is(err, memory.ErrNotFound) || (err == nil && one[0].User != s.user) {
		return 0, fmt.Errorf("message %d: %w", id, ErrNoExchange)
	}
	if err != nil {
		return 0, err
	}
	conv := one[0].ConversationID
	ms, err := c.cfg.Memory.Messages(ctx, conv, 0, 0)
	if err != nil {
		return 0, err
	}
	at := -1
	for i, m := range ms {
		if m.ID == id {
			at = i
		}
	}
	if at < 0 {
		return 0, fmt.Errorf("message %d: %w", id, ErrNoExchange)
	}
	start := at
	for start > 0 && ms[start].Role != memory.RoleUser {
		start--
	}
	end := at + 1
	for end < len(ms) && ms[end].Role != memory.RoleUser {
		end++
	}
	ids := make([]int64, 0, end-start)
	for _, m := range ms[start:end] {
		ids = append(ids, m.ID)
	}
	parent := ms[start].ReplyTo
	if parent == 0 && start > 0 && end < len(ms) {
		parent = ms[start-1].ID
	}
	r, err := c.cfg.Memory.ForgetMessages(ctx, conv, ids)
	if err != nil {
		return 0, err
	}
	c.cfg.Log.Info().Str("user", s.user).Int64("conversation", conv).Int64("message", ms[start].ID).Int64("messages", r.Messages).Int64("summaries", r.Summaries).
		Msg("forgot an exchange for real")
	// The front end goes on (an edit is answered again) whether or not the
	// audit log took the record; a failure is logged.
	if err := c.forgot(ctx, s.user, fmt.Sprintf("exchange:%d", ms[start].ID), map[string]any{"conversation": conv, "messages": r.Messages, "summaries": r.Summaries}); err != nil {
		c.cfg.Log.Error().Err(err).Msg("chat: an exchange forgotten")
	}
	return parent, nil
}
