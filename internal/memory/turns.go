package memory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TurnKind says what a chat turn beyond plain text was.
type TurnKind string

// The kinds of turn details.
const (
	TurnAnswer     TurnKind = "answer"
	TurnToolCall   TurnKind = "tool_call"
	TurnToolResult TurnKind = "tool_result"
)

// TurnDetail is what the chat core records about a stored message beyond
// its role and text (migration 0008).
type TurnDetail struct {
	MessageID        int64         `json:"message_id"`
	Kind             TurnKind      `json:"kind"`
	ToolName         string        `json:"tool_name,omitempty"`
	ToolCallID       string        `json:"tool_call_id,omitempty"`
	PromptTokens     int           `json:"prompt_tokens,omitempty"`
	CompletionTokens int           `json:"completion_tokens,omitempty"`
	TokensPerSecond  float64       `json:"tokens_per_second,omitempty"`
	FirstToken       time.Duration `json:"first_token,omitempty"`
	FailedOver       bool          `json:"failed_over,omitempty"`
	ContextTokens    int           `json:"context_tokens,omitempty"`
	ContextWindow    int           `json:"context_window,omitempty"`
}

// AppendTurn stores a message and its detail in one transaction.
func (s *Store) AppendTurn(ctx context.Context, m Message, d TurnDetail) (Message, error) {
	if err := s.prepare(&m, s.now()); err != nil {
		return Message{}, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT user_id FROM conversations WHERE id = ?`, m.ConversationID).Scan(&m.User); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store turn: conversation %d: %w", m.ConversationID, ErrNotFound)
			}
			return fmt.Errorf("store turn: %w", err)
		}
		res, err := tx.ExecContext(ctx, insertMessage, m.ConversationID, m.User, string(m.Role), m.Content, m.Tokens, m.TokensExact, m.Model, nullID(m.ReplyTo), toMS(m.Time))
		if err != nil {
			return fmt.Errorf("store turn: %w", err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("store turn: %w", err)
		}
		if err := indexMessages(ctx, tx, m.ID, m.ID); err != nil {
			return err
		}
		if d.Kind == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO turn_details (message_id, kind, tool_name, tool_call_id, prompt_tokens, completion_tokens,
tokens_per_second, first_token_ms, failed_over, context_tokens, context_window) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, string(d.Kind), d.ToolName, d.ToolCallID, d.PromptTokens, d.CompletionTokens, d.TokensPerSecond,
			d.FirstToken.Milliseconds(), d.FailedOver, d.ContextTokens, d.ContextWindow)
		if err != nil {
			return fmt.Errorf("store turn detail: %w", err)
		}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	s.cache.invalidate(m.ConversationID)
	return m, nil
}

// TurnDetails returns the details of a conversation's messages by message id.
func (s *Store) TurnDetails(ctx context.Context, conversation int64) (map[int64]TurnDetail, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.message_id, d.kind, d.tool_name, d.tool_call_id, d.prompt_tokens, d.completion_tokens,
d.tokens_per_second, d.first_token_ms, d.failed_over, d.context_tokens, d.context_window
FROM turn_details d JOIN messages m ON m.id = d.message_id WHERE m.conversation_id = ?`, conversation)
	if err != nil {
		return nil, fmt.Errorf("read turn details: %w", err)
	}
	defer rows.Close()
	out := map[int64]TurnDetail{}
	for rows.Next() {
		var d TurnDetail
		var kind string
		var ms int64
		if err := rows.Scan(&d.MessageID, &kind, &d.ToolName, &d.ToolCallID, &d.PromptTokens, &d.CompletionTokens,
			&d.TokensPerSecond, &ms, &d.FailedOver, &d.ContextTokens, &d.ContextWindow); err != nil {
			return nil, fmt.Errorf("read turn details: %w", err)
		}
		d.Kind, d.FirstToken = TurnKind(kind), time.Duration(ms)*time.Millisecond
		out[d.MessageID] = d
	}
	return out, rows.Err()
}

// toolDetails returns the tool call and tool result details among the
// messages ms, by message id.
func (s *Store) toolDetails(ctx context.Context, ms []Message) (map[int64]TurnDetail, error) {
	out := map[int64]TurnDetail{}
	if len(ms) == 0 {
		return out, nil
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT message_id, kind, tool_name, tool_call_id FROM turn_details
WHERE message_id IN (SELECT value FROM json_each(?)) AND kind IN ('tool_call', 'tool_result')`, string(list))
	if err != nil {
		return nil, fmt.Errorf("read tool turns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d TurnDetail
		var kind string
		if err := rows.Scan(&d.MessageID, &kind, &d.ToolName, &d.ToolCallID); err != nil {
			return nil, fmt.Errorf("read tool turns: %w", err)
		}
		d.Kind = TurnKind(kind)
		out[d.MessageID] = d
	}
	return out, rows.Err()
}

// DeleteMessages deletes messages of a conversation (a regenerated answer
// and the tool turns that led to it), with their index entries, vectors and
// details.
func (s *Store) DeleteMessages(ctx context.Context, conversation int64, ids []int64) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id = ? AND conversation_id = ?`, id, conversation); err != nil {
				return fmt.Errorf("delete message %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.cache.invalidate(conversation)
	return nil
}

// ForgetConversation deletes a conversation for real: its messages (with
// their index entries and vectors), summaries and archive, then purges the
// deleted text from the files. Facts learned from it stay; their provenance
// links to its messages go.
func (s *Store) ForgetConversation(ctx context.Context, conversation int64) (ForgetReport, error) {
	var r ForgetReport
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE conversation_id = ?`, conversation).Scan(&r.Messages); err != nil {
			return fmt.Errorf("forget conversation: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM summaries WHERE conversation_id = ?`, conversation).Scan(&r.Summaries); err != nil {
			return fmt.Errorf("forget conversation: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM archive WHERE conversation_id = ?`, conversation).Scan(&r.Archives); err != nil {
			return fmt.Errorf("forget conversation: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM conversations WHERE id = ?`, conversation)
		if err != nil {
			return fmt.Errorf("forget conversation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("forget conversation %d: %w", conversation, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	s.cache.invalidate(conversation)
	return r, s.Purge(ctx)
}

// MergeUser moves everything stored under from (conversations, messages,
// summaries, archive, facts) to to, and removes from. It is how the
// terminal's history written under LocalUser joins the owner's once the
// owner's Discord id is known. It returns how many messages moved; a from
// that does not exist moves nothing.
func (s *Store) MergeUser(ctx context.Context, from, to string) (int64, error) {
	var moved int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = ?`, from).Scan(&n); err != nil || n == 0 {
			return err
		}
		if err := ensureUser(ctx, tx, to, s.now()); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE user_id = ?`, from).Scan(&moved); err != nil {
			return fmt.Errorf("merge %s into %s: %w", from, to, err)
		}
		for _, q := range []string{
			`UPDATE conversations SET user_id = ? WHERE user_id = ?`,
			`UPDATE messages SET user_id = ? WHERE user_id = ?`,
			`UPDATE summaries SET user_id = ? WHERE user_id = ?`,
			`UPDATE archive SET user_id = ? WHERE user_id = ?`,
			// A fact both users have is kept once, the owner's.
			`UPDATE OR IGNORE facts SET user_id = ? WHERE user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, to, from); err != nil {
				return fmt.Errorf("merge %s into %s: %w", from, to, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, from); err != nil {
			return fmt.Errorf("merge %s into %s: %w", from, to, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.cache.invalidateUser(from)
	s.cache.invalidateUser(to)
	s.vecMu.Lock()
	clear(s.vecs)
	s.vecMu.Unlock()
	return moved, nil
}
