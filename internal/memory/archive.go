package memory

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// archived is one message's original text inside an archive blob.
type archived struct {
	ID      int64  `json:"id"`
	Content string `json:"content"`
}

// encodeArchive gzips a JSON array of the messages' texts. gzip from the
// standard library: message text compresses 3–5× and restoring is rare
// (export, recall of a 90-day-old message), so zstd's speed is not needed.
// Writers are pooled: each holds about 1 MB of compressor state.
func (s *Store) encodeArchive(ms []archived) ([]byte, int, error) {
	raw, err := json.Marshal(ms)
	if err != nil {
		return nil, 0, err
	}
	var b bytes.Buffer
	w, _ := s.gzip.Get().(*gzip.Writer)
	if w == nil {
		if w, err = gzip.NewWriterLevel(&b, gzip.BestCompression); err != nil {
			return nil, 0, err
		}
	} else {
		w.Reset(&b)
	}
	defer s.gzip.Put(w)
	if _, err := w.Write(raw); err != nil {
		return nil, 0, err
	}
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), len(raw), nil
}

func decodeArchive(data []byte) ([]archived, error) {
	r, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decompress archive: %w", err)
	}
	var out []archived
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode archive: %w", err)
	}
	return out, nil
}

// archiveTexts reads archive rows by id into message id → original text.
type archiveTexts struct {
	db    queryer
	texts map[int64]string
	done  map[int64]bool
}

func newArchiveTexts(db queryer) *archiveTexts {
	return &archiveTexts{db: db, texts: map[int64]string{}, done: map[int64]bool{}}
}

func (a *archiveTexts) load(ctx context.Context, archiveIDs []int64) error {
	var todo []any
	for _, id := range archiveIDs {
		if !a.done[id] {
			a.done[id] = true
			todo = append(todo, id)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	rows, err := a.db.QueryContext(ctx, `SELECT id, data FROM archive WHERE id IN (?`+strings.Repeat(",?", len(todo)-1)+`)`, todo...)
	if err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		ms, err := decodeArchive(data)
		if err != nil {
			return fmt.Errorf("archive %d: %w", id, err)
		}
		for _, m := range ms {
			a.texts[m.ID] = m.Content
		}
	}
	return rows.Err()
}

// restoreArchived puts the original text back into archived messages.
func (s *Store) restoreArchived(ctx context.Context, ms []Message) error {
	var ids []any
	for _, m := range ms {
		if m.Archived {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT archive_id FROM messages WHERE archive_id IS NOT NULL AND id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return fmt.Errorf("find archived text: %w", err)
	}
	var aids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		aids = append(aids, id)
	}
	rows.Close()
	at := newArchiveTexts(s.db)
	if err := at.load(ctx, aids); err != nil {
		return err
	}
	for i := range ms {
		if ms[i].Archived {
			t, ok := at.texts[ms[i].ID]
			if !ok {
				return fmt.Errorf("message %d is archived but its text is missing from the archive", ms[i].ID)
			}
			ms[i].Content = t
		}
	}
	return nil
}
