package memory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/maicompanion/mai/internal/lockfile"
	"github.com/maicompanion/mai/internal/store"
)

// ErrDaemonRunning means `mai serve` holds the daemon lock, so the database
// cannot be swapped under it.
var ErrDaemonRunning = lockfile.ErrHeld

// ErrNotMaiDatabase means a file is not a usable Mai database.
var ErrNotMaiDatabase = errors.New("not a Mai database")

// CheckBackup verifies that path is an intact SQLite database with Mai's
// memory schema, opening it read-only.
func CheckBackup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&ok); err != nil {
		return fmt.Errorf("%s: %w (%v)", path, ErrNotMaiDatabase, err)
	}
	if ok != "ok" {
		return fmt.Errorf("%s is damaged: %s", path, ok)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('schema_migrations', 'meta', 'messages', 'users')`).Scan(&n); err != nil || n != 4 {
		return fmt.Errorf("%s: %w (it lacks Mai's tables)", path, ErrNotMaiDatabase)
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = 2`).Scan(&v); err != nil || v != 1 {
		return fmt.Errorf("%s: %w (memory migration not applied)", path, ErrNotMaiDatabase)
	}
	return nil
}

// Restore replaces the database at dbPath with the backup at src, after
// checking the backup and taking the daemon lock at lockPath (so no daemon
// runs, or starts, during the swap). The replaced database is kept next to
// it as <dbPath>.before-restore-<time>; its path is returned.
func Restore(ctx context.Context, src, dbPath, lockPath string) (string, error) {
	if err := CheckBackup(ctx, src); err != nil {
		return "", err
	}
	// Holding the daemon's lock keeps a daemon from starting mid-swap.
	lock, err := lockfile.Acquire(lockPath)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	defer lock.Release()
	tmp := dbPath + ".restore-tmp"
	if err := copyFile(src, tmp); err != nil {
		return "", fmt.Errorf("copy backup: %w", err)
	}
	defer os.Remove(tmp)
	var kept string
	if _, err := os.Stat(dbPath); err == nil {
		// Fold the WAL into the old file so the kept copy is complete.
		old, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: dbPath}).EscapedPath())
		if err == nil {
			_, err = old.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
			old.Close()
		}
		if err != nil {
			return "", fmt.Errorf("checkpoint the current database: %w", err)
		}
		kept = dbPath + ".before-restore-" + time.Now().UTC().Format(backupStamp)
		if err := os.Rename(dbPath, kept); err != nil {
			return "", fmt.Errorf("set the current database aside: %w", err)
		}
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			return kept, fmt.Errorf("remove %s: %w", dbPath+suffix, err)
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return kept, fmt.Errorf("move the backup into place: %w", err)
	}
	return kept, store.SyncPath(filepath.Dir(dbPath))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
