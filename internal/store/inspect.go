package store

import (
	"context"
	"os"
)

// Report describes a database without changing it, for `mai doctor`.
type Report struct {
	Exists bool
	FTS5   bool
	Status Status
}

// Inspect opens the database at path read-only (if it exists) and reports
// whether FTS5 is present and which migrations are applied or pending.
func Inspect(ctx context.Context, path string) (Report, error) {
	var r Report
	if _, err := os.Stat(path); os.IsNotExist(err) {
		known, err := LoadMigrations(Options{}.migrations())
		if err != nil {
			return r, err
		}
		r.Status.Pending = known
		if len(known) > 0 {
			r.Status.Latest = known[len(known)-1].Version
		}
		return r, nil
	} else if err != nil {
		return r, err
	}
	r.Exists = true
	db, err := openReadOnly(ctx, path)
	if err != nil {
		return r, err
	}
	defer db.Close()
	r.FTS5 = true
	known, err := LoadMigrations(Options{}.migrations())
	if err != nil {
		return r, err
	}
	r.Status, err = db.status(ctx, known)
	return r, err
}

func openReadOnly(ctx context.Context, path string) (*DB, error) {
	sqlDB, err := sqlOpenRO(path)
	if err != nil {
		return nil, err
	}
	return connect(ctx, sqlDB, path)
}

// FTS5Available reports whether the linked SQLite has FTS5, using an
// in-memory database.
func FTS5Available(ctx context.Context) error {
	db, err := sqlOpenRO(":memory:")
	if err != nil {
		return err
	}
	defer db.Close()
	return checkFTS5(ctx, db)
}
