package memory

import (
	"context"
	"fmt"
)

// MaxBranch bounds how many messages of a reply chain a context follows
// back (the branch ContextRequest.Branch names).
const MaxBranch = 40

// branchQuery walks a reply chain from a message back to its root: a user
// message stored as a reply (reply_to set, and earlier) continues at the
// message it replies to, every other message at the one stored before it
// in its conversation, as a conversation without replies reads. It yields
// at most ? + 1 messages, newest first.
const branchQuery = `WITH RECURSIVE chain (mid, depth) AS (
	SELECT ?, 0
	UNION ALL
	SELECT CASE
		WHEN m.role = 'user' AND m.reply_to IS NOT NULL AND m.reply_to < m.id THEN m.reply_to
		ELSE (SELECT max(p.id) FROM messages p WHERE p.conversation_id = m.conversation_id AND p.id < m.id)
	END, chain.depth + 1
	FROM chain JOIN messages m ON m.id = chain.mid
	WHERE chain.depth < ?
)
SELECT ` + messageCols + ` FROM chain JOIN messages ON messages.id = chain.mid ORDER BY chain.depth`

// Branch returns the reply chain that ends with message id, oldest first:
// at most limit messages (MaxBranch when 0) followed back from it. It
// returns ErrNotFound when the message does not exist.
func (s *Store) Branch(ctx context.Context, id int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = MaxBranch
	}
	ms, err := queryMessages(ctx, s.db, branchQuery, id, limit-1)
	if err != nil {
		return nil, fmt.Errorf("read reply chain: %w", err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("message %d: %w", id, ErrNotFound)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms, s.restoreArchived(ctx, ms)
}

// branchFitting returns the newest messages of the branch ending at id
// that fit in room tokens, counted by tok, oldest first.
func (s *Store) branchFitting(ctx context.Context, tok *Estimator, model string, id int64, room, over int) ([]Message, error) {
	ms, err := s.Branch(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	return fitNewest(tok, model, ms, room, over), nil
}
