package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Problem kinds, as Verify names them.
const (
	KindEdited    = "edited"    // an entry does not match its hash: edited, moved or forged
	KindMissing   = "missing"   // an entry was deleted from the middle
	KindUnchained = "unchained" // an authentic entry follows the wrong one
	KindTruncated = "truncated" // entries the anchor vouches for are gone from the end
	KindAnchor    = "anchor"    // the anchor file is missing, not authentic, or off the chain
)

// Problem is the first thing wrong with the log.
type Problem struct {
	// Seq is the first bad entry; 0 when the anchor file itself is bad.
	Seq     int64  `json:"seq"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Report is what Verify found.
type Report struct {
	OK      bool    `json:"ok"`
	Entries int64   `json:"entries"`
	LastSeq int64   `json:"last_seq"`
	Anchor  *Anchor `json:"anchor,omitempty"`
	// Unanchored counts entries newer than the anchor: appended within the
	// last anchor interval, or before a crash (Open catches the anchor up).
	Unanchored int64    `json:"unanchored"`
	Problem    *Problem `json:"problem,omitempty"`
}

// ErrTampered is returned by Reanchor when the chain itself is broken.
var ErrTampered = errors.New("the audit log has been tampered with")

// Check verifies the log in db without changing anything: it makes no key
// and moves no anchor, so it suits a read-only database beside a running
// daemon. Entries newer than the anchor (a crash, or the last second) are
// checked to chain onto it, as Verify does.
func Check(ctx context.Context, db *sql.DB, dir string) (Report, error) {
	key, id, err := loadKey(ctx, db, dir, false)
	if err != nil {
		return Report{}, err
	}
	if key == nil { // never written to
		return Report{OK: true}, nil
	}
	l := &Log{db: db, dir: dir, key: key, keyID: id, h: newHasher(key)}
	return l.Verify(ctx)
}

// Verify checks every entry's hash and link, then the anchor, and reports
// the first problem. An error means the check could not be done.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	a, err := readAnchor(l.dir)
	if err != nil {
		return Report{}, err
	}
	var capture int64
	if a != nil {
		capture = a.Seq
	}
	w, err := l.walk(ctx, 1, make([]byte, HashSize), capture)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Entries: w.count, LastSeq: w.lastSeq, Anchor: a, Problem: w.problem}
	if rep.Problem == nil {
		rep.Problem = l.checkAnchor(a, w)
	}
	if rep.Problem == nil && a != nil {
		rep.Unanchored = w.lastSeq - a.Seq
	}
	rep.OK = rep.Problem == nil
	return rep, nil
}

func (l *Log) checkAnchor(a *Anchor, w walked) *Problem {
	switch {
	case a == nil && w.count == 0:
		return nil
	case a == nil:
		return &Problem{Kind: KindAnchor, Message: fmt.Sprintf("the anchor file %s is missing although the log has %d entries, so a cut-off tail could not be seen", AnchorFile, w.count)}
	case a.KeyID != "" && a.KeyID != l.keyID:
		return &Problem{Kind: KindAnchor, Message: fmt.Sprintf("the anchor file %s was written with another key (%s, the log's is %s): it was replaced", AnchorFile, a.KeyID, l.keyID)}
	case !a.authentic(l.h, l.keyID):
		return &Problem{Kind: KindAnchor, Message: fmt.Sprintf("the anchor file %s is not authentic: it was edited or replaced", AnchorFile)}
	case a.Seq > w.lastSeq:
		return &Problem{Seq: w.lastSeq + 1, Kind: KindTruncated, Message: fmt.Sprintf("entries %d to %d were cut off the end of the log (the anchor records entry %d)", w.lastSeq+1, a.Seq, a.Seq)}
	case a.Seq > 0 && hex.EncodeToString(w.captured) != a.Hash, a.Seq == 0 && a.Hash != hex.EncodeToString(make([]byte, HashSize)):
		return &Problem{Seq: a.Seq, Kind: KindAnchor, Message: fmt.Sprintf("entry %d is not the entry the anchor records: the log was cut back and written again", a.Seq)}
	}
	return nil
}

// walked is the outcome of walking part of the chain.
type walked struct {
	count    int64
	lastSeq  int64
	lastHash []byte
	captured []byte // the hash of the entry asked for
	problem  *Problem
}

// walk checks the entries from seq from onwards, the first of which must
// follow prev, and stops at the first problem. It records the hash of entry
// capture on the way.
func (l *Log) walk(ctx context.Context, from int64, prev []byte, capture int64) (walked, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log WHERE seq >= ? ORDER BY seq`, from)
	if err != nil {
		return walked{}, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	h := newHasher(l.key)
	w := walked{lastSeq: from - 1, lastHash: bytes.Clone(prev)}
	var seq int64
	var at, actor, action, subject, details, storedPrev, hash sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &at, &actor, &action, &subject, &details, &storedPrev, &hash); err != nil {
			return walked{}, fmt.Errorf("read audit log: %w", err)
		}
		expect := w.lastSeq + 1
		switch {
		case seq != expect:
			w.problem = &Problem{Seq: expect, Kind: KindMissing, Message: fmt.Sprintf("entry %d is missing: it was deleted (the next entry is %d)", expect, seq)}
		case !hmac.Equal(h.entryHash(storedPrev, seq, at, actor, action, subject, details), hash):
			w.problem = &Problem{Seq: seq, Kind: KindEdited, Message: fmt.Sprintf("entry %d does not match its hash: it was edited, moved or forged", seq)}
		case !bytes.Equal(storedPrev, w.lastHash):
			w.problem = &Problem{Seq: seq, Kind: KindUnchained, Message: fmt.Sprintf("entry %d does not follow entry %d: entries between them were removed, inserted or reordered", seq, seq-1)}
		}
		if w.problem != nil {
			return w, nil
		}
		w.count++
		w.lastSeq = seq
		w.lastHash = append(w.lastHash[:0], hash...)
		if seq == capture {
			w.captured = bytes.Clone(hash)
		}
	}
	if err := rows.Err(); err != nil {
		return walked{}, fmt.Errorf("read audit log: %w", err)
	}
	return w, nil
}

// Reanchor accepts the log as it stands after a legitimate loss of its
// newest entries — a database restored from a backup — when the chain
// itself is intact: it appends an entry recording the old anchor and why,
// and anchors the log at that entry. It refuses a broken chain.
func (l *Log) Reanchor(ctx context.Context, actor, reason string) (Entry, error) {
	old, err := readAnchor(l.dir)
	if err != nil {
		return Entry{}, err
	}
	w, err := l.walk(ctx, 1, make([]byte, HashSize), 0)
	if err != nil {
		return Entry{}, err
	}
	if w.problem != nil {
		return Entry{}, fmt.Errorf("%w: %s", ErrTampered, w.problem.Message)
	}
	details := map[string]any{"reason": reason, "entries": w.count}
	if old != nil {
		details["previous_anchor_seq"], details["previous_anchor_hash"] = old.Seq, old.Hash
	}
	entries, err := l.Append(ctx, Record{Actor: actor, Action: "audit.reanchor", Subject: AnchorFile, Details: details})
	if err != nil {
		return Entry{}, err
	}
	e := entries[0]
	hash, _ := hex.DecodeString(e.Hash)
	l.mu.Lock()
	defer l.mu.Unlock()
	err = l.lock.do(func() error { return l.advanceAnchor(head{e.Seq, hash}, true) })
	if err == nil && l.head.seq == e.Seq {
		l.unanchored = false
	}
	return e, err
}

// VerifyFromAnchor is the quick check mai serve makes at start: the anchor
// file, the entry it records (re-hashed, and linked as the anchor says),
// and every entry after it. Entries before the anchor were checked when
// the anchor moved past them; Verify checks them all again. With no anchor
// yet (a new or small log) it is Verify. Report.Entries counts the entries
// checked.
func (l *Log) VerifyFromAnchor(ctx context.Context) (Report, error) {
	a, err := readAnchor(l.dir)
	if err != nil {
		return Report{}, err
	}
	if a == nil || a.Seq <= 0 {
		return l.Verify(ctx)
	}
	rep := Report{Anchor: a}
	if !a.authentic(l.h, l.keyID) {
		rep.Problem = l.checkAnchor(a, walked{})
		return rep, nil
	}
	var prev []byte
	err = l.db.QueryRowContext(ctx, `SELECT prev_hash FROM audit_log WHERE seq = ?`, a.Seq).Scan(&prev)
	if errors.Is(err, sql.ErrNoRows) {
		// The anchored entry is gone: the full walk says how.
		return l.Verify(ctx)
	}
	if err != nil {
		return Report{}, fmt.Errorf("read audit log: %w", err)
	}
	w, err := l.walk(ctx, a.Seq, prev, a.Seq)
	if err != nil {
		return Report{}, err
	}
	rep.Entries, rep.LastSeq, rep.Problem = w.count, w.lastSeq, w.problem
	if rep.Problem == nil {
		rep.Problem = l.checkAnchor(a, w)
	}
	if rep.Problem == nil {
		rep.Unanchored = w.lastSeq - a.Seq
	}
	rep.OK = rep.Problem == nil
	return rep, nil
}
