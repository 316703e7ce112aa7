package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func notesDB(t *testing.T) *DB {
	t.Helper()
	db, err := open(t, filepath.Join(t.TempDir(), "mai.db"), v2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if _, err := db.Exec(`INSERT INTO notes (body) VALUES (?)`, strings.Repeat("note ", 20+i%7)); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestBackupLeavesOnlyTheCheckedCopy: the copy appears under its name
// complete, nothing temporary stays beside it, and an existing file is
// never replaced.
func TestBackupLeavesOnlyTheCheckedCopy(t *testing.T) {
	ctx := context.Background()
	db := notesDB(t)
	dir := t.TempDir()
	dest := filepath.Join(dir, "copy.db")
	got, err := db.Backup(ctx, dest)
	if err != nil || got != dest {
		t.Fatalf("Backup = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "copy.db" {
		t.Fatalf("folder holds %v, want only copy.db", entries)
	}
	if info, _ := os.Stat(dest); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if err := checkIntegrity(ctx, dest); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(dest)
	if _, err := db.Backup(ctx, dest); !errors.Is(err, fs.ErrExist) {
		t.Errorf("backup over an existing file: %v", err)
	}
	if after, _ := os.ReadFile(dest); string(after) != string(before) {
		t.Error("the existing copy was changed")
	}
	// A backup that fails midway leaves nothing behind.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Backup(cancelled, filepath.Join(dir, "never.db")); err == nil {
		t.Fatal("a cancelled backup succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after a failed backup the folder holds %v", entries)
	}
}

// TestIntegrityCheckFindsDamage: a copy with a damaged page fails the check
// Backup runs before it names the copy.
func TestIntegrityCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	db := notesDB(t)
	dest := filepath.Join(t.TempDir(), "copy.db")
	if _, err := db.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over the middle of the notes table's last page but one.
	page := 4096
	at := len(b) - 2*page + 200
	for i := range 1500 {
		b[at+i] = 0x5a
	}
	if err := os.WriteFile(dest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkIntegrity(ctx, dest); err == nil {
		t.Fatal("a damaged copy passed the integrity check")
	}
}
