package memory

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ForgetReport counts what was deleted.
type ForgetReport struct {
	Messages  int64 `json:"messages"`
	Summaries int64 `json:"summaries"`
	Archives  int64 `json:"archives"`
	Facts     int64 `json:"facts"`
}

// ForgetUser deletes a user's history for real: messages (with their FTS
// entries and embeddings), summaries, archived originals and facts — all of
// it, or with before set only what is older than before (then the user and
// newer history stay). Afterwards the FTS indexes are merged and the
// database vacuumed and checkpointed, so the text is gone from the files,
// not just unlinked.
func (s *Store) ForgetUser(ctx context.Context, user string, before time.Time) (ForgetReport, error) {
	var r ForgetReport
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = ?`, user).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("user %s: %w", user, ErrNotFound)
		}
		cut := int64(1<<62 - 1)
		if !before.IsZero() {
			cut = toMS(before)
		}
		count := func(dst *int64, q string, args ...any) error {
			return tx.QueryRowContext(ctx, q, args...).Scan(dst)
		}
		if err := count(&r.Messages, `SELECT count(*) FROM messages WHERE user_id = ? AND created_ms < ?`, user, cut); err != nil {
			return err
		}
		if err := count(&r.Summaries, `SELECT count(*) FROM summaries WHERE user_id = ? AND from_ms < ?`, user, cut); err != nil {
			return err
		}
		if err := count(&r.Facts, `SELECT count(*) FROM facts WHERE user_id = ? AND created_ms < ?`, user, cut); err != nil {
			return err
		}
		if before.IsZero() {
			if err := count(&r.Archives, `SELECT count(*) FROM archive WHERE user_id = ?`, user); err != nil {
				return err
			}
			// Cascades delete conversations, messages (firing the FTS
			// triggers), summaries, archive, facts and embeddings.
			_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, user)
			return err
		}
		for _, q := range []string{
			`DELETE FROM summaries WHERE user_id = ? AND from_ms < ?`,
			`DELETE FROM facts WHERE user_id = ? AND created_ms < ?`,
			`DELETE FROM messages WHERE user_id = ? AND created_ms < ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, user, cut); err != nil {
				return err
			}
		}
		a, err := s.pruneArchive(ctx, tx, user, cut)
		r.Archives = a
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM conversations WHERE user_id = ? AND started_ms < ?
AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)
AND NOT EXISTS (SELECT 1 FROM summaries x WHERE x.conversation_id = conversations.id)`, user, cut)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("forget %s: %w", user, err)
	}
	s.cache.clear()
	if err := s.Purge(ctx); err != nil {
		return r, fmt.Errorf("forget %s: deleted, but %w", user, err)
	}
	return r, nil
}

// pruneArchive removes the texts of deleted messages from the user's
// archive blobs that start before cut, rewriting or deleting each blob.
func (s *Store) pruneArchive(ctx context.Context, tx *sql.Tx, user string, cut int64) (int64, error) {
	type blob struct {
		id   int64
		data []byte
	}
	var blobs []blob
	err := eachRow(ctx, tx, `SELECT id, data FROM archive WHERE user_id = ? AND from_ms < ?`, []any{user, cut}, func(r rowScanner) error {
		var b blob
		if err := r.Scan(&b.id, &b.data); err != nil {
			return err
		}
		blobs = append(blobs, b)
		return nil
	})
	if err != nil {
		return 0, err
	}
	var changed int64
	for _, b := range blobs {
		entries, err := decodeArchive(b.data)
		if err != nil {
			return changed, fmt.Errorf("archive %d: %w", b.id, err)
		}
		var kept []archived
		for _, e := range entries {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE id = ? AND archive_id = ?`, e.ID, b.id).Scan(&n); err != nil {
				return changed, err
			}
			if n == 1 {
				kept = append(kept, e)
			}
		}
		if len(kept) == len(entries) {
			continue
		}
		changed++
		if len(kept) == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM archive WHERE id = ?`, b.id); err != nil {
				return changed, err
			}
			continue
		}
		data, raw, err := s.encodeArchive(kept)
		if err != nil {
			return changed, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE archive SET data = ?, raw_bytes = ?, messages = ?,
from_ms = (SELECT min(created_ms) FROM messages WHERE archive_id = archive.id), to_ms = (SELECT max(created_ms) FROM messages WHERE archive_id = archive.id)
WHERE id = ?`, data, raw, len(kept), b.id); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// Purge makes deleted text unrecoverable from the database files: FTS5
// keeps deleted entries in old index segments until they merge, so both
// indexes are optimised (merged into one segment), then VACUUM rewrites the
// file without free pages and a truncating checkpoint empties the WAL.
func (s *Store) Purge(ctx context.Context) error {
	for _, q := range []string{
		`INSERT INTO messages_fts(messages_fts) VALUES ('optimize')`,
		`INSERT INTO summaries_fts(summaries_fts) VALUES ('optimize')`,
		`VACUUM`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("purge deleted text (%s): %w", q, err)
		}
	}
	return nil
}

// ForgetFact deletes a fact with its provenance links and purges its text
// from the database files, as ForgetUser does for history.
func (s *Store) ForgetFact(ctx context.Context, id int64) error {
	if err := s.deleteFact(ctx, id); err != nil {
		return err
	}
	return s.Purge(ctx)
}

// Rebuild recreates both FTS indexes from their tables: the repair for an
// index that lost sync (messages written by something other than this
// package, which indexes in the inserting transaction).
func (s *Store) Rebuild(ctx context.Context) error {
	for _, q := range []string{
		`INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')`,
		`INSERT INTO summaries_fts(summaries_fts) VALUES ('rebuild')`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild search index: %w", err)
		}
	}
	return nil
}
