package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestOpenReadOnly: a reader never creates, migrates or writes the
// database, and says why it cannot read one.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "mai.db")
	ro := func() (*DB, error) { return OpenReadOnly(ctx, path, Options{Migrations: migrationsFS(v2)}) }

	if _, err := ro(); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("no file: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Fatalf("a read-only open of nothing created %v", names)
	}

	old, err := open(t, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	before, _ := os.ReadFile(path)
	if _, err := ro(); !errors.Is(err, ErrOutdated) {
		t.Fatalf("outdated database: %v", err)
	}
	// SQLite may create the WAL index and an empty WAL to read a WAL
	// database; nothing else appears and the file stays as it was.
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("reading an outdated database changed it")
	}
	for _, name := range dirNames(t, dir) {
		if !slices.Contains([]string{"mai.db", "mai.db-wal", "mai.db-shm"}, name) {
			t.Errorf("reading an outdated database created %s", name)
		}
	}
	if info, err := os.Stat(path + "-wal"); err == nil && info.Size() != 0 {
		t.Errorf("the reader wrote %d bytes of WAL", info.Size())
	}

	db, err := open(t, path, v2) // migrates, as the daemon does
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO notes (body) VALUES ('written by the daemon')`); err != nil {
		t.Fatal(err)
	}
	r, err := ro()
	if err != nil {
		t.Fatalf("current database, daemon open: %v", err)
	}
	var body string
	if err := r.QueryRow(`SELECT body FROM notes`).Scan(&body); err != nil || body != "written by the daemon" {
		t.Errorf("read %q, %v", body, err)
	}
	if _, err := r.Exec(`INSERT INTO notes (body) VALUES ('x')`); err == nil {
		t.Error("a read-only database took a write")
	}
	r.Close()

	if _, err := OpenReadOnly(ctx, path, Options{Migrations: migrationsFS(v1)}); !errors.Is(err, ErrNewerDatabase) {
		t.Errorf("database newer than the reader: %v", err)
	}
	db.Close()
}

func TestOpenEmpty(t *testing.T) {
	db, err := OpenEmpty(context.Background(), Options{Migrations: migrationsFS(v2)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("notes: %d, %v", n, err)
	}
}
