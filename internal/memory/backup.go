package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

// backupPrefix names the files BackupRotate writes and prunes; backupStamp
// is the UTC time in their names, which sorts by time.
const (
	backupPrefix = "mai-"
	backupStamp  = "20060102T150405Z"
)

// ManualDir is the folder, inside the daily backups' folder, that holds the
// copies the owner asks for: the daily rotation neither counts nor prunes
// them, so a manual copy never delays the daily one or disappears with it.
const ManualDir = "manual"

// staleTemp is how old a temporary copy must be before rotation deletes
// it: no backup takes a day, so an older one was left by a crash.
const staleTemp = 24 * time.Hour

func backupName(now time.Time) string { return backupPrefix + now.UTC().Format(backupStamp) + ".db" }

// ManualBackupPath is where a manual backup made at now goes, for dir the
// daily backups' folder.
func ManualBackupPath(dir string, now time.Time) string {
	return filepath.Join(dir, ManualDir, backupName(now))
}

// BackupRotate writes a consistent, checked copy of db into dir as
// mai-<UTC time>.db and deletes the oldest complete copies beyond keep (7
// when keep <= 0), and temporary copies a crash left behind. `mai serve`
// calls it daily. It returns the new file's path.
func BackupRotate(ctx context.Context, db *store.DB, dir string, keep int, now time.Time) (string, error) {
	if keep <= 0 {
		keep = 7
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create backup directory: %w", err)
	}
	path, err := db.Backup(ctx, filepath.Join(dir, backupName(now)))
	if err != nil {
		return "", err
	}
	if err := removeStaleTemps(dir, now); err != nil {
		return path, err
	}
	backups, err := listBackups(dir)
	if err != nil {
		return path, err
	}
	for len(backups) > keep {
		if err := os.Remove(backups[0].path); err != nil {
			return path, fmt.Errorf("remove old backup: %w", err)
		}
		backups = backups[1:]
	}
	return path, nil
}

// LatestBackup returns the time of the newest complete backup BackupRotate
// wrote in dir, or the zero time when there is none.
func LatestBackup(dir string) (time.Time, error) {
	backups, err := listBackups(dir)
	if err != nil || len(backups) == 0 {
		return time.Time{}, err
	}
	return backups[len(backups)-1].at, nil
}

type backupFile struct {
	path string
	at   time.Time
}

// listBackups returns dir's rotated backups, oldest first: files named as
// BackupRotate names them whose SQLite header says they are complete. A
// temporary copy is named otherwise; a file cut short (a crash while an
// older Mai wrote straight to the final name, a full disk) fails the header
// check. Neither counts as a backup.
func listBackups(dir string) ([]backupFile, error) {
	files, err := filepath.Glob(filepath.Join(dir, backupPrefix+"*.db"))
	if err != nil {
		return nil, err
	}
	var out []backupFile
	for _, f := range files {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), backupPrefix), ".db")
		t, err := time.Parse(backupStamp, stamp)
		if err != nil || !completeSQLite(f) {
			continue
		}
		out = append(out, backupFile{f, t})
	}
	slices.SortFunc(out, func(a, b backupFile) int { return a.at.Compare(b.at) })
	return out, nil
}

// completeSQLite reports whether the file at path starts with a SQLite
// header whose page count (valid when its version-valid-for number matches
// the change counter, as SQLite since 3.7.0 writes it) times its page size
// is the file's size.
func completeSQLite(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:16]) != "SQLite format 3\x00" {
		return false
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	changes, pages, validFor := binary.BigEndian.Uint32(h[24:28]), int64(binary.BigEndian.Uint32(h[28:32])), binary.BigEndian.Uint32(h[92:96])
	info, err := f.Stat()
	return err == nil && validFor == changes && pages > 0 && info.Size() == pages*pageSize
}

// removeStaleTemps deletes temporary copies in dir older than staleTemp.
func removeStaleTemps(dir string, now time.Time) error {
	temps, err := filepath.Glob(filepath.Join(dir, store.TempBackupPrefix+"*"))
	if err != nil {
		return err
	}
	for _, f := range temps {
		if info, err := os.Stat(f); err == nil && now.Sub(info.ModTime()) > staleTemp {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("remove a temporary backup a crash left: %w", err)
			}
		}
	}
	return nil
}
