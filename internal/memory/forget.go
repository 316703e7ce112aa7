package memory

import (
	"context"
	"database/sql"
	"encoding/json"
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
		a, err := s.pruneArchive(ctx, tx, `SELECT id, data FROM archive WHERE user_id = ? AND from_ms < ?`, user, cut)
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

// ForgetMessages deletes some messages of a conversation for real (one
// exchange the owner took back): the messages with their index entries,
// vectors and turn details, their texts in the compressed archive, and the
// summaries that cover any of them, since a summary may quote them — of
// the folds, the one that covers the first of them and every later one, so
// that the next fold summarises again what is left. Then the deleted text
// is purged from the files. Facts learned from the messages stay; their
// provenance links go, as with ForgetConversation. It returns ErrNotFound
// when none of ids is a message of the conversation.
func (s *Store) ForgetMessages(ctx context.Context, conversation int64, ids []int64) (ForgetReport, error) {
	var r ForgetReport
	list, err := json.Marshal(ids)
	if err != nil {
		return r, err
	}
	const in = `conversation_id = ? AND id IN (SELECT value FROM json_each(?))`
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var first sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT count(*), min(id) FROM messages WHERE `+in, conversation, string(list)).Scan(&r.Messages, &first); err != nil {
			return err
		}
		if r.Messages == 0 {
			return ErrNotFound
		}
		archives := []int64{}
		err := eachRow(ctx, tx, `SELECT DISTINCT archive_id FROM messages WHERE archive_id IS NOT NULL AND `+in, []any{conversation, string(list)}, func(r rowScanner) error {
			var id int64
			if err := r.Scan(&id); err != nil {
				return err
			}
			archives = append(archives, id)
			return nil
		})
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM summaries WHERE conversation_id = ? AND (
	(tier = 'fold' AND last_message_id >= ?)
	OR (tier != 'fold' AND EXISTS (SELECT 1 FROM json_each(?) f WHERE f.value BETWEEN first_message_id AND last_message_id)))`,
			conversation, first.Int64, string(list))
		if err != nil {
			return err
		}
		if r.Summaries, err = res.RowsAffected(); err != nil {
			return err
		}
		// Deleting fires the FTS trigger and cascades to vectors (moving
		// the embedding generation, so loaded indexes reload), turn details
		// and fact sources; later replies to them lose their link.
		if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE `+in, conversation, string(list)); err != nil {
			return err
		}
		blobs, err := json.Marshal(archives)
		if err != nil {
			return err
		}
		r.Archives, err = s.pruneArchive(ctx, tx, `SELECT id, data FROM archive WHERE id IN (SELECT value FROM json_each(?))`, string(blobs))
		return err
	})
	if err != nil {
		return r, fmt.Errorf("forget messages of conversation %d: %w", conversation, err)
	}
	s.cache.invalidate(conversation)
	if err := s.Purge(ctx); err != nil {
		return r, fmt.Errorf("forget messages: deleted, but %w", err)
	}
	return r, nil
}

// pruneArchive removes the texts of deleted messages from the archive
// blobs that query (selecting id and data) finds, rewriting or deleting
// each blob.
func (s *Store) pruneArchive(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	type blob struct {
		id   int64
		data []byte
	}
	var blobs []blob
	err := eachRow(ctx, tx, query, args, func(r rowScanner) error {
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
