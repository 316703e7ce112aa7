package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unicode/utf8"
)

// embedModelKey is the meta key that records the model that embedded
// messages last: the vectors recall uses, and the model the backlog is
// counted against.
const embedModelKey = "embedding_model"

// maxEmbedBytes bounds the text of one message sent to the embedder: the
// start of a pasted page says what it is about, and embedding models read a
// few thousand tokens at most.
const maxEmbedBytes = 8 << 10

// EmbedPending embeds messages that have no vector from the embedder's
// current model, at most batch (default 32) a request, oldest first, until
// none is left or ctx ends, and returns how many it embedded. Each batch is
// stored as it arrives, so a run that stops anywhere resumes where it
// stopped. The current model is the one that last answered this Store (a
// recall's query, a batch), else the one recorded in the database; when the
// embedder moves to another model, the messages are embedded again with
// it. `mai serve` runs it in the background.
func (s *Store) EmbedPending(ctx context.Context, batch int) (int, error) {
	if s.opt.Embedder == nil {
		return 0, nil
	}
	if batch <= 0 {
		batch = 32
	}
	recorded, err := s.recordedEmbedModel(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	// after is where the next batch starts: everything before it was
	// embedded or skipped by this run, so each batch is found without
	// rescanning the messages before it.
	var after int64
	lastModel := ""
	for {
		model, err := s.embedModel(ctx)
		if err != nil {
			return total, err
		}
		if model != lastModel {
			after, lastModel = 0, model
		}
		ms, err := queryMessages(ctx, s.db, `SELECT `+messageCols+` FROM messages m WHERE id > ? AND archive_id IS NULL AND content != ''
AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.message_id = m.id AND e.model = ?) ORDER BY id LIMIT ?`, after, model, batch)
		if err != nil || len(ms) == 0 {
			return total, err
		}
		texts := make([]string, len(ms))
		for i, m := range ms {
			texts[i] = clip(m.Content, maxEmbedBytes)
		}
		vs, got, err := s.opt.Embedder.Embed(ctx, texts)
		if err != nil {
			return total, fmt.Errorf("embed messages: %w", err)
		}
		if len(vs) != len(ms) || got == "" {
			return total, fmt.Errorf("embed messages with %q: %d vectors for %d inputs", got, len(vs), len(ms))
		}
		s.sawEmbedModel(got)
		if got != recorded {
			if err := s.setEmbedModel(ctx, got); err != nil {
				return total, err
			}
			recorded = got
		}
		for i, m := range ms {
			if err := s.SetEmbedding(ctx, m.ID, got, vs[i]); err != nil {
				return total, err
			}
		}
		if got == model {
			after = ms[len(ms)-1].ID
		}
		total += len(ms)
	}
}

// clip cuts text to at most n bytes at a character boundary.
func clip(text string, n int) string {
	if len(text) <= n {
		return text
	}
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n]
}

// sawEmbedModel notes the model that just answered this Store.
func (s *Store) sawEmbedModel(model string) {
	s.embedMu.Lock()
	s.lastEmbedModel = model
	s.embedMu.Unlock()
}

// embedModel returns the model to embed with: the one that last answered
// this Store, else the one recorded in the database, "" before any.
func (s *Store) embedModel(ctx context.Context) (string, error) {
	s.embedMu.Lock()
	model := s.lastEmbedModel
	s.embedMu.Unlock()
	if model != "" {
		return model, nil
	}
	return s.recordedEmbedModel(ctx)
}

// recordedEmbedModel returns the model recorded as embedding messages.
func (s *Store) recordedEmbedModel(ctx context.Context) (string, error) {
	var model string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, embedModelKey).Scan(&model)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read the embedding model: %w", err)
	}
	return model, nil
}

func (s *Store) setEmbedModel(ctx context.Context, model string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, embedModelKey, model)
	if err != nil {
		return fmt.Errorf("record the embedding model: %w", err)
	}
	return nil
}

// EmbedBacklog is how far embedding is behind: the model messages are
// embedded with ("" before any answered) and how many messages still wait
// for a vector from it.
type EmbedBacklog struct {
	Model   string `json:"model"`
	Pending int64  `json:"pending"`
}

// Backlog returns the embedding backlog. It only reads, so `mai memory
// stats` shows it beside a running daemon.
func (s *Store) Backlog(ctx context.Context) (EmbedBacklog, error) {
	var b EmbedBacklog
	var err error
	if b.Model, err = s.recordedEmbedModel(ctx); err != nil {
		return b, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM messages m WHERE archive_id IS NULL AND content != ''
AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.message_id = m.id AND e.model = ?)`, b.Model).Scan(&b.Pending)
	if err != nil {
		return b, fmt.Errorf("count messages waiting for embedding: %w", err)
	}
	return b, nil
}

// SetEmbedding stores (or replaces) the vector of a message for model.
func (s *Store) SetEmbedding(ctx context.Context, message int64, model string, v []float32) error {
	if len(v) == 0 {
		return fmt.Errorf("embedding of message %d is empty", message)
	}
	return s.setEmbedding(ctx, message, model, normalize(v))
}
