package audit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/maicompanion/mai/internal/store"
)

// KeyFile is the name of the key file in the data directory.
const KeyFile = "audit.key"

// ErrKeyMissing: the log has entries (or a recorded key) but the key file
// is gone, so nothing can be checked or appended.
var ErrKeyMissing = errors.New("the audit key file is missing")

// ErrWrongKey: the key file holds a different key from the one the log was
// written with.
var ErrWrongKey = errors.New("the audit key file holds a different key from the one this log was written with")

// ErrKeyUnsafe: the key file can be read by other users.
var ErrKeyUnsafe = errors.New("the audit key file is readable by other users")

const metaKeyID = "audit_key_id"

// keyID names a key without revealing it: the first 8 bytes of a hash.
func keyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("mai audit key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// loadKey reads the key from dir. With create, a missing key is made at
// first start — no key file, no recorded key id and no entry yet — and the
// key's id is recorded in the database's meta table. Without create
// nothing is written, and a log that has never had a key returns a nil key.
func loadKey(ctx context.Context, db *sql.DB, dir string, create bool) ([]byte, string, error) {
	path := filepath.Join(dir, KeyFile)
	recorded, err := recordedKeyID(ctx, db)
	if err != nil {
		return nil, "", err
	}
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil {
			return nil, "", fmt.Errorf("read audit log: %w", err)
		}
		if recorded != "" || n > 0 {
			return nil, "", fmt.Errorf("%w: %s (the log has %d entries written with key %s)", ErrKeyMissing, path, n, recorded)
		}
		if !create {
			return nil, "", nil
		}
		if key, err = createKey(path); err != nil {
			return nil, "", err
		}
	} else if err != nil {
		return nil, "", err
	}
	id := keyID(key)
	if recorded == "" && create {
		if _, err := db.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, metaKeyID, id); err != nil {
			return nil, "", fmt.Errorf("record audit key id: %w", err)
		}
		if recorded, err = recordedKeyID(ctx, db); err != nil {
			return nil, "", err
		}
	}
	if recorded != "" && recorded != id {
		return nil, "", fmt.Errorf("%w: %s holds key %s, the log was written with key %s", ErrWrongKey, path, id, recorded)
	}
	return key, id, nil
}

func recordedKeyID(ctx context.Context, db *sql.DB) (string, error) {
	var id string
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaKeyID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read audit key id: %w", err)
	}
	return id, nil
}

func readKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %o, want 600", ErrKeyUnsafe, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: %s does not hold 64 hex digits", ErrWrongKey, path)
	}
	return key, nil
}

// createKey writes a new random key to path, or returns the one another
// process wrote there first: the file appears complete or not at all.
func createKey(path string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate audit key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), KeyFile+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("write audit key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(hex.EncodeToString(key) + "\n")
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("write audit key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("write audit key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return key, nil
}

func syncDir(dir string) error {
	if err := store.SyncPath(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
