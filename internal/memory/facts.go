package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Fact is something Mai learned about a user: a statement, what it is
// about, how sure Mai is, and the messages it came from.
type Fact struct {
	ID         int64     `json:"id"`
	User       string    `json:"user"`
	Subject    string    `json:"subject,omitempty"`
	Statement  string    `json:"statement"`
	Confidence float64   `json:"confidence"`
	Sources    []int64   `json:"sources,omitempty"` // message ids
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	LastUsed   time.Time `json:"last_used,omitzero"`
}

// Remember records a fact, or refreshes the same statement about the same
// subject (new confidence, more sources). It returns the fact's id.
func (s *Store) Remember(ctx context.Context, f Fact) (int64, error) {
	f.Statement = strings.TrimSpace(f.Statement)
	if f.Statement == "" {
		return 0, errors.New("remember: the statement is empty")
	}
	if f.Confidence == 0 {
		f.Confidence = 1
	}
	if f.Confidence < 0 || f.Confidence > 1 {
		return 0, fmt.Errorf("remember: confidence %v is outside 0..1", f.Confidence)
	}
	var id int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if err := ensureUser(ctx, tx, f.User, now); err != nil {
			return err
		}
		created, updated := now, now
		if !f.Created.IsZero() {
			created = f.Created
		}
		if !f.Updated.IsZero() {
			updated = f.Updated
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO facts (user_id, subject, statement, confidence, created_ms, updated_ms, last_used_ms)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id, subject, statement) DO UPDATE SET confidence = excluded.confidence, updated_ms = excluded.updated_ms
RETURNING id`, f.User, f.Subject, f.Statement, f.Confidence, toMS(created), toMS(updated), lastUsedMS(f.LastUsed)).Scan(&id)
		if err != nil {
			return fmt.Errorf("remember fact: %w", err)
		}
		for _, m := range f.Sources {
			res, err := tx.ExecContext(ctx, `INSERT INTO fact_sources (fact_id, message_id) SELECT ?, id FROM messages WHERE id = ? AND user_id = ?
ON CONFLICT DO NOTHING`, id, m, f.User)
			if err != nil {
				return fmt.Errorf("record source of fact: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				var exists int
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM fact_sources WHERE fact_id = ? AND message_id = ?`, id, m).Scan(&exists); err != nil {
					return err
				}
				if exists == 0 {
					return fmt.Errorf("remember fact: source message %d of %s: %w", m, f.User, ErrNotFound)
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.cache.invalidateUser(f.User)
	return id, nil
}

func lastUsedMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return toMS(t)
}

// Facts returns the user's facts, newest first.
func (s *Store) Facts(ctx context.Context, user string) ([]Fact, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT f.id, f.user_id, f.subject, f.statement, f.confidence, f.created_ms, f.updated_ms, f.last_used_ms,
coalesce((SELECT group_concat(message_id) FROM (SELECT message_id FROM fact_sources WHERE fact_id = f.id ORDER BY message_id)), '')
FROM facts f WHERE f.user_id = ? ORDER BY f.updated_ms DESC, f.id DESC`, user)
	if err != nil {
		return nil, fmt.Errorf("list facts: %w", err)
	}
	defer rows.Close()
	var out []Fact
	for rows.Next() {
		var f Fact
		var c, u, l int64
		var srcs string
		if err := rows.Scan(&f.ID, &f.User, &f.Subject, &f.Statement, &f.Confidence, &c, &u, &l, &srcs); err != nil {
			return nil, fmt.Errorf("list facts: %w", err)
		}
		f.Created, f.Updated = fromMS(c), fromMS(u)
		if l != 0 {
			f.LastUsed = fromMS(l)
		}
		for _, x := range strings.Split(srcs, ",") {
			var id int64
			if _, err := fmt.Sscan(x, &id); err == nil {
				f.Sources = append(f.Sources, id)
			}
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// deleteFact deletes a fact and its provenance links; the text stays in
// free pages and index segments until Purge.
func (s *Store) deleteFact(ctx context.Context, id int64) error {
	var user string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `DELETE FROM facts WHERE id = ? RETURNING user_id`, id).Scan(&user)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("forget fact %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("forget fact %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.cache.invalidateUser(user)
	return nil
}

// rankFacts returns a copy of facts ranked for query: shared content
// words first, then confidence, then how recently they were used or
// updated; and how many content words each fact shares with query, by id.
// Facts are few per user (hundreds), so ranking them in Go is cheaper than
// keeping another index in sync.
func rankFacts(facts []Fact, query string) ([]Fact, map[int64]int) {
	fs := slices.Clone(facts)
	q := map[string]bool{}
	for _, w := range contentWords(query) {
		q[w] = true
	}
	shared := make(map[int64]int, len(fs))
	for _, f := range fs {
		for _, w := range contentWords(f.Subject + " " + f.Statement) {
			if q[w] {
				shared[f.ID]++
			}
		}
	}
	score := func(f Fact) float64 { return float64(shared[f.ID]) + f.Confidence }
	sort.SliceStable(fs, func(i, j int) bool {
		if a, b := score(fs[i]), score(fs[j]); a != b {
			return a > b
		}
		return fs[i].LastUsed.After(fs[j].LastUsed)
	})
	return fs, shared
}

func (s *Store) markFactsUsed(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{toMS(s.now())}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE facts SET last_used_ms = ? WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
	if err != nil {
		return fmt.Errorf("mark facts used: %w", err)
	}
	return nil
}
