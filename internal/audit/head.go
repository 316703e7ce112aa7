package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// KindRewritten is a problem found against a copy of the head kept off the
// machine: the entry it names is gone or has another hash, so the log was
// rewritten — by someone who also held the key, since the chain verifies.
const KindRewritten = "rewritten"

// Head is the newest entry's sequence number and hash: a copy of it kept
// elsewhere (the owner's DMs) lets a later check see a log rewritten with
// its own key, which the chain and the anchor cannot.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"` // hex
}

// String is the head as SEQ:HASH, the form `mai audit verify --head` takes.
func (h Head) String() string { return fmt.Sprintf("%d:%s", h.Seq, h.Hash) }

// ErrBadHead is returned by ParseHead for text that is not SEQ:HASH.
var ErrBadHead = errors.New("a head is SEQ:HASH, the entry number and its 64 hex digits, as Mai's DM gives it")

// ParseHead reads SEQ:HASH.
func ParseHead(s string) (Head, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	hash = strings.ToLower(hash)
	if b, herr := hex.DecodeString(hash); !ok || err != nil || seq < 1 || herr != nil || len(b) != HashSize {
		return Head{}, fmt.Errorf("%w, e.g. 42:%s", ErrBadHead, strings.Repeat("0f", HashSize))
	}
	return Head{Seq: seq, Hash: hash}, nil
}

// LatestHead returns the newest entry's head; a log without entries has
// the zero Head. It needs no key.
func LatestHead(ctx context.Context, db *sql.DB) (Head, error) {
	var h Head
	var hash []byte
	err := db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("read the audit log's head: %w", err)
	}
	h.Hash = hex.EncodeToString(hash)
	return h, nil
}

// CheckHead checks the log in db against a copy of an earlier head: the
// chain verifies from the first entry up to the head's, and that entry has
// the head's hash. It changes nothing. The report's Problem has Kind
// KindRewritten when the entry is gone or differs, or the kind of the chain's
// own first problem before it; entries after the head are not looked at
// (Check does that).
func CheckHead(ctx context.Context, db *sql.DB, dir string, h Head) (Report, error) {
	key, id, err := loadKey(ctx, db, dir, false)
	if err != nil {
		return Report{}, err
	}
	if key == nil { // never written to
		return Report{Problem: &Problem{Seq: h.Seq, Kind: KindRewritten,
			Message: fmt.Sprintf("the audit log is empty, but the copy of its head names entry %d: the log was rewritten (or this is another data directory)", h.Seq)}}, nil
	}
	l := &Log{db: db, dir: dir, key: key, keyID: id, h: newHasher(key)}
	w, err := l.walk(ctx, 1, make([]byte, HashSize), h.Seq)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Entries: w.count, LastSeq: w.lastSeq, Problem: w.problem}
	switch {
	case rep.Problem != nil && rep.Problem.Seq <= h.Seq:
		// the chain itself breaks before the head: that problem says more
	case w.captured == nil:
		rep.Problem = &Problem{Seq: h.Seq, Kind: KindRewritten,
			Message: fmt.Sprintf("entry %d, which the copy of the head names, is not in the log (it ends at entry %d): the log was rewritten", h.Seq, w.lastSeq)}
	case hex.EncodeToString(w.captured) != h.Hash:
		rep.Problem = &Problem{Seq: h.Seq, Kind: KindRewritten,
			Message: fmt.Sprintf("entry %d has hash %s, but the copy of the head says %s: the log was rewritten", h.Seq, hex.EncodeToString(w.captured), h.Hash)}
	default:
		rep.Problem = nil
	}
	rep.OK = rep.Problem == nil
	return rep, nil
}
