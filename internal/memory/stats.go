package memory

import (
	"context"
	"fmt"
	"time"
)

// Stats describes what memory holds.
type Stats struct {
	Users            int64 `json:"users"`
	Conversations    int64 `json:"conversations"`
	Messages         int64 `json:"messages"`
	ArchivedMessages int64 `json:"archived_messages"`
	Facts            int64 `json:"facts"`
	Embeddings       int64 `json:"embeddings"`
	// Embedding is the background embedder's model and backlog.
	Embedding EmbedBacklog `json:"embedding"`
	Summaries []TierStat   `json:"summaries"`
	// Tiers are message text bytes by age: full (<7 days), keypoints
	// (7–30), condensed (30–90), archive (older, compressed bytes).
	Tiers  []TierStat `json:"tiers"`
	Oldest *time.Time `json:"oldest,omitempty"`
	Newest *time.Time `json:"newest,omitempty"`
	// FileBytes is the database file's size (pages × page size).
	FileBytes int64 `json:"file_bytes"`
}

// TierStat is a count and a byte size.
type TierStat struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

// Stats returns counts, bytes per tier, and the oldest and newest message.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	db := s.db
	err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),
(SELECT count(*) FROM messages WHERE archive_id IS NOT NULL), (SELECT count(*) FROM facts), (SELECT count(*) FROM embeddings)`).
		Scan(&st.Users, &st.Conversations, &st.Messages, &st.ArchivedMessages, &st.Facts, &st.Embeddings)
	if err != nil {
		return st, fmt.Errorf("count memory: %w", err)
	}
	if st.Embedding, err = s.Backlog(ctx); err != nil {
		return st, err
	}
	err = eachRow(ctx, db, `SELECT tier, count(*), coalesce(sum(length(CAST(content AS BLOB))), 0) FROM summaries GROUP BY tier ORDER BY tier`, nil, func(r rowScanner) error {
		var t TierStat
		if err := r.Scan(&t.Name, &t.Count, &t.Bytes); err != nil {
			return err
		}
		st.Summaries = append(st.Summaries, t)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("count summaries: %w", err)
	}
	now := toMS(s.now())
	d := int64(day / time.Millisecond)
	tiers := []struct {
		name     string
		from, to int64
	}{
		{"full", now - 7*d, 1 << 62},
		{TierKeyPoints, now - 30*d, now - 7*d},
		{TierCondensed, now - 90*d, now - 30*d},
	}
	for _, t := range tiers {
		ts := TierStat{Name: t.name}
		if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(CAST(content AS BLOB))), 0) FROM messages WHERE archive_id IS NULL AND created_ms >= ? AND created_ms < ?`,
			t.from, t.to).Scan(&ts.Count, &ts.Bytes); err != nil {
			return st, fmt.Errorf("measure tier %s: %w", t.name, err)
		}
		st.Tiers = append(st.Tiers, ts)
	}
	old := TierStat{Name: TierArchive}
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM messages WHERE archive_id IS NOT NULL OR created_ms < ?),
(SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM messages WHERE archive_id IS NULL AND created_ms < ?) + (SELECT coalesce(sum(length(data)), 0) FROM archive)`,
		now-90*d, now-90*d).Scan(&old.Count, &old.Bytes); err != nil {
		return st, fmt.Errorf("measure archive: %w", err)
	}
	st.Tiers = append(st.Tiers, old)
	var oldest, newest *int64
	if err := db.QueryRowContext(ctx, `SELECT min(created_ms), max(created_ms) FROM messages`).Scan(&oldest, &newest); err != nil {
		return st, fmt.Errorf("find oldest message: %w", err)
	}
	if oldest != nil {
		o, n := fromMS(*oldest), fromMS(*newest)
		st.Oldest, st.Newest = &o, &n
	}
	if err := db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&st.FileBytes); err != nil {
		return st, fmt.Errorf("measure file: %w", err)
	}
	return st, nil
}
