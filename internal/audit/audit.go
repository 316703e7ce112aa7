// Package audit keeps Mai's tamper-evident record of what it did and who
// decided: an append-only chain of entries in SQLite where each entry's hash
// is HMAC-SHA256(key, previous hash ‖ canonical encoding of the entry).
//
// The key is a 0600 file in the data directory (never in the database, never
// logged), so editing, deleting, reordering or inserting rows without it
// breaks the chain. Deleting the newest rows would not, so the latest seq and
// hash are also written to an anchor file outside the database: right after
// an append when the anchor is more than AnchorInterval old, else at most
// AnchorInterval later, so while appends continue it is rewritten at least
// once per interval. Entries newer than the anchor must chain onto it; a tail
// cut off below the anchor is caught. What was appended within the last
// interval before a cut (or before a crash) is the window the anchor cannot
// vouch for.
//
// Appends are serialised within a process by a mutex and between processes
// (the daemon and a CLI command) by SQLite's write lock, taken with BEGIN
// IMMEDIATE before the last entry is read; anchor writes are ordered by an
// flock and never move the anchor backwards or off the chain.
package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// Record is what a caller appends.
type Record struct {
	Actor   string // who: "local" (the terminal owner), "discord:<id>", "mai"
	Action  string // what, dotted: "sandbox.run", "approval.approve", "pin.set"
	Subject string // what it was done to: a job id, a request id, a user
	Details any    // marshalled to a JSON object; nil is {}
}

// Entry is one stored entry.
type Entry struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Details  json.RawMessage `json:"details"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// Options configures Open.
type Options struct {
	// Dir is the data directory, home of the key, anchor and lock files.
	Dir string
	// AnchorInterval is the longest the anchor lags behind the last append
	// while appends continue; default one second.
	AnchorInterval time.Duration
	// Now stamps entries; time.Now when nil.
	Now func() time.Time
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log is closed")

// Log appends to and verifies the audit chain.
type Log struct {
	db       *sql.DB
	dir      string
	key      []byte
	keyID    string
	interval time.Duration
	now      func() time.Time
	lock     fileLock

	mu         sync.Mutex
	conn       *sql.Conn // appends only: synchronous=FULL
	h          *hasher
	head       head // the last entry this process appended
	unanchored bool // head is newer than the anchor this process wrote
	anchoredAt time.Time
	timer      *time.Timer
	anchorErr  error
	closed     bool
}

type head struct {
	seq  int64
	hash []byte
}

// Open loads the key (creating it at first start), and brings the anchor up
// to date when entries after it chain onto it — which is what a crash
// between an append and its anchor write leaves. db must be migrated.
func Open(ctx context.Context, db *sql.DB, o Options) (*Log, error) {
	if o.Dir == "" {
		return nil, errors.New("audit: no data directory")
	}
	key, id, err := loadKey(ctx, db, o.Dir, true)
	if err != nil {
		return nil, err
	}
	l := &Log{db: db, dir: o.Dir, key: key, keyID: id, interval: o.AnchorInterval, now: o.Now,
		lock: fileLock{filepath.Join(o.Dir, lockFile)}, h: newHasher(key)}
	if l.interval <= 0 {
		l.interval = time.Second
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.conn, err = db.Conn(ctx); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	// Each append is on disk before the caller goes on; the rest of Mai
	// may use NORMAL, but an audit entry must not vanish in a power cut.
	if _, err := l.conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		l.conn.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := l.recover(ctx); err != nil {
		l.conn.Close()
		return nil, err
	}
	return l, nil
}

// KeyID names the key the log is written with (not the key itself).
func (l *Log) KeyID() string { return l.keyID }

// Append stores recs as one batch committed together and returns them as
// stored. The anchor follows as the package comment describes; a failure to
// write it is returned by Flush and Close, not here, since the entries are
// already committed.
func (l *Log) Append(ctx context.Context, recs ...Record) ([]Entry, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	details := make([][]byte, len(recs))
	for i, r := range recs {
		d, err := encodeDetails(r.Details)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", r.Action, err)
		}
		details[i] = d
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	entries, err := l.commit(ctx, recs, details)
	if err != nil {
		return nil, fmt.Errorf("audit %s: %w", recs[0].Action, err)
	}
	last := entries[len(entries)-1]
	hash, _ := hex.DecodeString(last.Hash)
	l.head, l.unanchored = head{last.Seq, hash}, true
	l.scheduleAnchor()
	return entries, nil
}

func encodeDetails(v any) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode details: %w", err)
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, fmt.Errorf("details must be a JSON object, got %.20s", b)
	}
	return b, nil
}

// commit appends the records in one IMMEDIATE transaction: the write lock
// is taken before the last entry is read, so no other writer, in this
// process or another, can append in between.
func (l *Log) commit(ctx context.Context, recs []Record, details [][]byte) ([]Entry, error) {
	if _, err := l.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			l.conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	var seq int64
	prev := make([]byte, HashSize)
	err := l.conn.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	var entries []Entry
	at := l.now()
	for i, r := range recs {
		seq++
		ts := formatTime(at)
		hash := bytes.Clone(l.h.entryHash(prev, seq, []byte(ts), []byte(r.Actor), []byte(r.Action), []byte(r.Subject), details[i]))
		if _, err := l.conn.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			seq, ts, r.Actor, r.Action, r.Subject, string(details[i]), prev, hash); err != nil {
			return nil, err
		}
		entries = append(entries, Entry{Seq: seq, Time: parseTime(ts), Actor: r.Actor, Action: r.Action, Subject: r.Subject,
			Details: details[i], PrevHash: hex.EncodeToString(prev), Hash: hex.EncodeToString(hash)})
		prev = hash
	}
	if _, err := l.conn.ExecContext(context.WithoutCancel(ctx), `COMMIT`); err != nil {
		return nil, err
	}
	done = true
	return entries, nil
}

// scheduleAnchor writes the anchor now when the last write is at least an
// interval old, else arms one write for when it will be. l.mu is held.
func (l *Log) scheduleAnchor() {
	since := time.Since(l.anchoredAt)
	if since >= l.interval {
		l.flushLocked()
		return
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(l.interval-since, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.timer = nil
			if !l.closed {
				l.flushLocked()
			}
		})
	}
}

// Flush writes the anchor for the last append now, if it is not written
// yet, and returns the last anchor write's error.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	return l.anchorErr
}

func (l *Log) flushLocked() {
	if !l.unanchored {
		return
	}
	l.anchoredAt = time.Now()
	l.anchorErr = l.lock.do(func() error { return l.advanceAnchor(l.head, false) })
	if l.anchorErr == nil {
		l.unanchored = false
	}
}

// advanceAnchor moves the anchor to h when that keeps it on the chain: the
// current anchor exists, is authentic, older, and its entry is still there
// with its hash. Otherwise the anchor is left as it is, as evidence for
// Verify. force skips those checks (Reanchor). The file lock is held.
func (l *Log) advanceAnchor(h head, force bool) error {
	if !force {
		cur, err := readAnchor(l.dir)
		if err != nil || cur == nil || !cur.authentic(l.h, l.keyID) || cur.Seq >= h.seq {
			return err
		}
		stored := make([]byte, HashSize) // the empty log's anchor, seq 0
		if cur.Seq > 0 {
			err = l.conn.QueryRowContext(context.Background(), `SELECT hash FROM audit_log WHERE seq = ?`, cur.Seq).Scan(&stored)
		}
		if errors.Is(err, sql.ErrNoRows) || (err == nil && hex.EncodeToString(stored) != cur.Hash) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read audit log: %w", err)
		}
	}
	return writeAnchor(l.dir, l.h, l.keyID, h.seq, h.hash, l.now())
}

// recover writes the empty log's anchor (seq 0) at first start, and
// brings the anchor up to the last entry when the entries after it chain
// onto it: an append whose anchor write a crash prevented. From then on the
// anchor file always exists, so a missing one is a sign of tampering.
func (l *Log) recover(ctx context.Context) error {
	a, err := readAnchor(l.dir)
	if err != nil {
		return err
	}
	if a == nil {
		var n int64
		if err := l.conn.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n > 0 {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.lock.do(func() error {
			if a, err := readAnchor(l.dir); err != nil || a != nil {
				return err
			}
			return writeAnchor(l.dir, l.h, l.keyID, 0, make([]byte, HashSize), l.now())
		})
	}
	if !a.authentic(l.h, l.keyID) {
		return nil
	}
	anchorHash, _ := hex.DecodeString(a.Hash)
	w, err := l.walk(ctx, a.Seq+1, anchorHash, 0)
	if err != nil || w.problem != nil || w.count == 0 {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lock.do(func() error { return l.advanceAnchor(head{w.lastSeq, w.lastHash}, false) })
}

// Close writes any pending anchor and releases the log's connection.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.flushLocked()
	l.closed = true
	return errors.Join(l.anchorErr, l.conn.Close())
}
