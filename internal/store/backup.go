package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrBackupDamaged means a fresh copy failed SQLite's integrity check; it
// was deleted, and the database itself is untouched.
var ErrBackupDamaged = errors.New("the copy failed its integrity check")

// Backup writes a consistent copy of the database (VACUUM INTO, safe while
// other connections write) to dest, or, when dest is "", to
// <path>.bak-<UTC timestamp> next to it, and returns the path written. The
// copy is made under a temporary name (a dot file in dest's folder), checked
// with PRAGMA integrity_check, synced, and only then renamed to dest and the
// folder synced: a crash at any point leaves either no file at dest or a
// complete, checked one. It never replaces an existing dest.
func (db *DB) Backup(ctx context.Context, dest string) (string, error) {
	if dest == "" {
		dest = db.path + ".bak-" + time.Now().UTC().Format("20060102T150405.000Z")
	}
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("back up %s to %s: %w", db.path, dest, err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fail(fs.ErrExist)
	}
	dir := filepath.Dir(dest)
	f, err := os.CreateTemp(dir, TempBackupPrefix+filepath.Base(dest)+".*")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	f.Close()
	defer removeTemp(tmp)
	// VACUUM INTO writes into an existing file only when it is empty, as
	// CreateTemp leaves it.
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fail(err)
	}
	if err := checkIntegrity(ctx, tmp); err != nil {
		return fail(err)
	}
	if err := SyncPath(tmp); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	if err := publish(tmp, dest); err != nil {
		return fail(err)
	}
	if err := SyncPath(dir); err != nil {
		return fail(err)
	}
	return dest, nil
}

// TempBackupPrefix starts the name of a copy Backup has not checked yet; a
// crash may leave one behind, which nothing reads as a backup.
const TempBackupPrefix = ".tmp-"

// publish gives tmp the name dest without replacing a file that appeared
// at dest meanwhile: a hard link fails when dest exists, where a rename
// would overwrite it. A file system without hard links gets the rename.
func publish(tmp, dest string) error {
	err := os.Link(tmp, dest)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	return os.Rename(tmp, dest)
}

func removeTemp(tmp string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(tmp + suffix)
	}
}

// checkIntegrity runs PRAGMA integrity_check on the file at path, read-only.
func checkIntegrity(ctx context.Context, path string) error {
	db, err := sqlOpenRO(path)
	if err != nil {
		return err
	}
	defer db.Close()
	var problems []string
	err = eachString(ctx, db, `PRAGMA integrity_check`, func(s string) {
		if s != "ok" && len(problems) < 5 {
			problems = append(problems, s)
		}
	})
	if err != nil {
		return fmt.Errorf("check the copy: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrBackupDamaged, strings.Join(problems, "; "))
	}
	return nil
}

func eachString(ctx context.Context, db *sql.DB, q string, fn func(string)) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		fn(s)
	}
	return rows.Err()
}

// SyncPath flushes a file, or a folder (which makes a rename or removal
// in it durable), to the disk.
func SyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// WriteFileAtomic replaces path with b so that a crash leaves either the
// old file or the new one, never a part: a temporary file beside it is
// written, synced and renamed over it, and the folder is synced to make
// the rename durable. The file gets mode perm.
func WriteFileAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Chmod(perm), tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncPath(dir)
}
