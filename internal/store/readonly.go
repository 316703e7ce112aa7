package store

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrNoDatabase means there is no database file at the path yet.
var ErrNoDatabase = errors.New("no database")

// ErrOutdated means the database predates this Mai: it has migrations to
// apply, which a read-only open does not do.
var ErrOutdated = errors.New("database predates this Mai")

// OpenReadOnly opens the existing database at path for reading only: it
// never creates the file, applies migrations or writes. It returns
// ErrNoDatabase when there is no file, ErrNewerDatabase or
// ErrChangedMigration as Open does, and ErrOutdated when migrations are
// pending (the tables a reader expects may not be there yet).
func OpenReadOnly(ctx context.Context, path string, o Options) (*DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoDatabase, path)
	} else if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db, err := openReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	known, err := LoadMigrations(o.migrations())
	if err != nil {
		db.Close()
		return nil, err
	}
	st, err := db.status(ctx, known)
	if err != nil {
		db.Close()
		return nil, err
	}
	if n := len(st.Pending); n > 0 {
		db.Close()
		return nil, fmt.Errorf("%w: %s has %d migration(s) to apply, up to %s", ErrOutdated, path, n, st.Pending[n-1].Name)
	}
	return db, nil
}

// OpenEmpty returns a database in memory with the current schema: what a
// read command reads when no database exists yet, without creating one.
func OpenEmpty(ctx context.Context, o Options) (*DB, error) {
	sqlDB, err := sqlOpenMemory()
	if err != nil {
		return nil, err
	}
	db, err := connect(ctx, sqlDB, ":memory:")
	return migrated(ctx, db, err, o)
}
