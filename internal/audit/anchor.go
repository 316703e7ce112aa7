package audit

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

// AnchorFile and lockFile are kept in the data directory beside the key.
const (
	AnchorFile = "audit.anchor"
	lockFile   = "audit.lock"
)

// Anchor is the latest entry as recorded outside the database: a tail cut
// off the log is caught because the anchor still names an entry that is gone.
type Anchor struct {
	Seq   int64     `json:"seq"`
	Hash  string    `json:"hash"`   // hex
	KeyID string    `json:"key_id"` // which key wrote it
	At    time.Time `json:"at"`
	MAC   string    `json:"mac"` // hex HMAC over seq, hash and key id
}

// readAnchor returns the anchor, or nil when there is none.
func readAnchor(dir string) (*Anchor, error) {
	b, err := os.ReadFile(filepath.Join(dir, AnchorFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit anchor: %w", err)
	}
	var a Anchor
	if err := json.Unmarshal(b, &a); err != nil {
		// Damaged: reported by Verify as an anchor that is not authentic.
		return &Anchor{}, nil
	}
	return &a, nil
}

// authentic reports whether a was written with this key.
func (a *Anchor) authentic(h *hasher, keyID string) bool {
	hash, err := hex.DecodeString(a.Hash)
	if err != nil || a.KeyID != keyID || a.Seq < 0 {
		return false
	}
	mac, err := hex.DecodeString(a.MAC)
	return err == nil && hmac.Equal(mac, h.anchorMAC(a.Seq, hash, keyID))
}

// writeAnchor replaces the anchor file atomically: temp file, fsync,
// rename, fsync of the directory.
func writeAnchor(dir string, h *hasher, keyID string, seq int64, hash []byte, now time.Time) error {
	a := Anchor{Seq: seq, Hash: hex.EncodeToString(hash), KeyID: keyID, At: now.UTC(),
		MAC: hex.EncodeToString(h.anchorMAC(seq, hash, keyID))}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := store.WriteFileAtomic(filepath.Join(dir, AnchorFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write audit anchor: %w", err)
	}
	return nil
}

// fileLock is an exclusive flock that orders anchor writes between
// processes (the daemon and a CLI command appending at the same time).
type fileLock struct{ path string }

func (l fileLock) do(fn func() error) error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit lock: %w", err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn()
}
