package audit

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/maicompanion/mai/internal/store"
)

// dataDir is a scratch data directory with a migrated database in it.
type dataDir struct {
	dir string
	db  *store.DB
}

func newDataDir(t testing.TB) *dataDir {
	t.Helper()
	d := &dataDir{dir: t.TempDir()}
	d.db = openDB(t, d.dir)
	return d
}

func openDB(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (d *dataDir) open(t testing.TB) *Log {
	t.Helper()
	l, err := Open(context.Background(), d.db.DB, Options{Dir: d.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fill appends n entries one by one and closes the log, so the anchor
// records the last of them.
func (d *dataDir) fill(t testing.TB, n int) {
	t.Helper()
	l := d.open(t)
	for i := 1; i <= n; i++ {
		if _, err := l.Append(context.Background(), Record{Actor: "local", Action: "test.step", Subject: fmt.Sprint("s", i), Details: map[string]int{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func (d *dataDir) exec(t testing.TB, q string, args ...any) sql.Result {
	t.Helper()
	r, err := d.db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return r
}

func verify(t testing.TB, l *Log) Report {
	t.Helper()
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
