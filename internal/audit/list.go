package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Filter selects entries for List.
type Filter struct {
	Since time.Time // entries at or after; zero for all
	// Action matches an action exactly, or every action under a prefix:
	// "approval" matches approval.request, approval.approve, ….
	Action string
	Limit  int // the newest Limit entries; 0 for all
}

// List returns the entries that match f, oldest first. It needs no key, so
// the log can be read even when the key file is lost.
func List(ctx context.Context, db *sql.DB, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, formatTime(f.Since))
	}
	if f.Action != "" {
		prefix := strings.TrimSuffix(f.Action, ".")
		where = append(where, "(action = ? OR substr(action, 1, ?) = ?)")
		args = append(args, f.Action, len(prefix)+1, prefix+".")
	}
	q := `SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var at, details string
		var prev, hash []byte
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &details, &prev, &hash); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.Time, e.Details = parseTime(at), []byte(details)
		if !json.Valid(e.Details) { // damaged: shown as the text it is
			e.Details, _ = json.Marshal(details)
		}
		e.PrevHash, e.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
