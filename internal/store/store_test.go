package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func migrationsFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return m
}

var v1 = map[string]string{
	"0001_notes.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
}

var v2 = map[string]string{
	"0001_notes.sql": v1["0001_notes.sql"],
	"0002_tags.sql": `CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id), tag TEXT NOT NULL);
CREATE VIRTUAL TABLE notes_fts USING fts5(body);`,
}

func open(t *testing.T, path string, files map[string]string) (*DB, error) {
	t.Helper()
	db, err := Open(context.Background(), path, Options{Migrations: migrationsFS(files)})
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}

func backups(t *testing.T, path string) []string {
	t.Helper()
	m, _ := filepath.Glob(path + ".bak-*")
	return m
}

func TestFreshDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "mai.db")
	db, err := open(t, path, v2)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	var fk, busy int
	db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	db.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	db.QueryRow("PRAGMA busy_timeout").Scan(&busy)
	if mode != "wal" || fk != 1 || busy != 5000 {
		t.Errorf("journal_mode=%s foreign_keys=%d busy_timeout=%d", mode, fk, busy)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n)
	if n != 2 {
		t.Errorf("applied = %d, want 2", n)
	}
	if _, err := db.Exec("INSERT INTO tags (note_id, tag) VALUES (42, 'x')"); err == nil {
		t.Error("foreign keys are not enforced")
	}
	if len(backups(t, path)) != 0 {
		t.Error("a fresh database needs no backup")
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", info.Mode().Perm())
	}
}

func TestEmbeddedMigrationsApply(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "mai.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var created string
	if err := db.QueryRow("SELECT value FROM meta WHERE key='created_at'").Scan(&created); err != nil || created == "" {
		t.Fatalf("meta: %v %q", err, created)
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := open(t, path, v2)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec("INSERT INTO notes (body) VALUES ('keep me')")
	db.Close()
	db, err = open(t, path, v2)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n)
	if n != 2 || len(backups(t, path)) != 0 {
		t.Errorf("re-open applied again (%d rows) or backed up (%v)", n, backups(t, path))
	}
}

func TestUpgradeBacksUpFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := open(t, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec("INSERT INTO notes (body) VALUES ('before upgrade')")
	db.Close()
	db, err = open(t, path, v2)
	if err != nil {
		t.Fatal(err)
	}
	b := backups(t, path)
	if len(b) != 1 {
		t.Fatalf("backups = %v, want one", b)
	}
	old, err := sql.Open("sqlite3", b[0])
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	var body string
	var n int
	old.QueryRow("SELECT body FROM notes").Scan(&body)
	old.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n)
	if body != "before upgrade" || n != 1 {
		t.Errorf("backup holds %q with %d migrations, want the pre-upgrade state", body, n)
	}
	db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n)
	if n != 2 {
		t.Errorf("upgraded db has %d migrations", n)
	}
}

func TestChangedMigrationIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := open(t, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	changed := map[string]string{"0001_notes.sql": v1["0001_notes.sql"] + "\n-- edited"}
	_, err = open(t, path, changed)
	if !errors.Is(err, ErrChangedMigration) || !strings.Contains(err.Error(), "0001_notes.sql") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewerDatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := open(t, path, v2)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = open(t, path, v1)
	if !errors.Is(err, ErrNewerDatabase) || !strings.Contains(err.Error(), "0002_tags.sql") || !strings.Contains(err.Error(), "upgrade Mai") {
		t.Fatalf("err = %v", err)
	}
	if len(backups(t, path)) != 0 {
		t.Error("a refused database must not be touched")
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.db")
	bad := map[string]string{
		"0001_notes.sql": v1["0001_notes.sql"],
		"0002_bad.sql":   "CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);",
	}
	_, err := open(t, path, bad)
	if err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("err = %v", err)
	}
	db, err := open(t, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name='half'").Scan(&n)
	if n != 0 {
		t.Error("a failed migration left a table behind")
	}
}

func TestBadMigrationNames(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"unnumbered": {"notes.sql": "SELECT 1;"},
		"duplicate":  {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadMigrations(migrationsFS(files)); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.db")
	os.WriteFile(path, []byte(strings.Repeat("this is not sqlite ", 100)), 0o600)
	_, err := open(t, path, v1)
	// The library names the condition; what to do about it is the CLI's
	// to say (cmd/mai's hints), so a chat front end never shows a command.
	if !errors.Is(err, ErrDamaged) || strings.Contains(err.Error(), "mai memory") {
		t.Fatalf("err = %v, want ErrDamaged without command-line advice", err)
	}
}

func TestInspect(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mai.db")
	r, err := Inspect(ctx, path)
	if err != nil || r.Exists || len(r.Status.Pending) == 0 {
		t.Fatalf("missing db: %+v %v", r, err)
	}
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	r, err = Inspect(ctx, path)
	if err != nil || !r.Exists || !r.FTS5 || len(r.Status.Pending) != 0 || len(r.Status.Applied) == 0 {
		t.Fatalf("migrated db: %+v %v", r, err)
	}
}

func TestTxRollsBackOnError(t *testing.T) {
	db, err := open(t, filepath.Join(t.TempDir(), "mai.db"), v1)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = db.Tx(context.Background(), func(tx *sql.Tx) error {
		tx.Exec("INSERT INTO notes (body) VALUES ('x')")
		return boom
	})
	var n int
	db.QueryRow("SELECT count(*) FROM notes").Scan(&n)
	if !errors.Is(err, boom) || n != 0 {
		t.Fatalf("err=%v rows=%d", err, n)
	}
}

// Several processes opening one new database at once (the daemon and a CLI
// command on a fresh data dir) must all succeed with one schema: before
// the set-up lock, two applied the first migration twice ("table meta
// already exists") or one failed the switch to WAL ("database is locked").
func TestConcurrentOpenOfNewDatabase(t *testing.T) {
	for round := range 10 {
		path := filepath.Join(t.TempDir(), "mai.db")
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				db, err := Open(context.Background(), path, Options{})
				if err == nil {
					err = db.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
}
