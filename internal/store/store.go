// Package store opens Mai's SQLite database (WAL, busy timeout, foreign
// keys), checks that FTS5 is compiled in, and brings the schema up to date
// from the numbered migrations in migrations/.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/mattn/go-sqlite3"

	"github.com/maicompanion/mai/migrations"
)

// ErrNoFTS5 means the SQLite library was compiled without FTS5.
var ErrNoFTS5 = errors.New("SQLite was built without FTS5: build and test with `-tags sqlite_fts5` (make build / make test do this)")

// ErrDamaged means the file is not an SQLite database or is corrupt.
var ErrDamaged = errors.New("the file is not a Mai database or is damaged")

// DB is an open, migrated database.
type DB struct {
	*sql.DB
	path string
}

// Options adjusts Open; the zero value is right for Mai.
type Options struct {
	// Migrations replaces the embedded migrations (tests).
	Migrations fs.FS
	// BusyTimeoutMS is how long a writer waits for a lock; default 5000.
	BusyTimeoutMS int
}

// Open opens (creating if needed) the database at path and applies pending
// migrations, backing up an existing database first. It refuses a database
// written by a newer Mai and one whose applied migrations have changed.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	unlock, err := setupLock(ctx, path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	db, err := openRaw(ctx, path, o)
	return migrated(ctx, db, err, o)
}

// migrated applies the pending migrations to db, just opened with err; on
// failure it closes db.
func migrated(ctx context.Context, db *DB, err error, o Options) (*DB, error) {
	if err != nil {
		return nil, err
	}
	if _, err := db.migrate(ctx, o.migrations()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

func (o Options) migrations() fs.FS {
	if o.Migrations != nil {
		return o.Migrations
	}
	return migrations.FS
}

func openRaw(ctx context.Context, path string, o Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	busy := o.BusyTimeoutMS
	if busy <= 0 {
		busy = 5000
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", fmt.Sprint(busy))
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	// Writers take the lock at BEGIN, so two writers queue on busy_timeout
	// instead of one failing with SQLITE_BUSY at its first write.
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	sqlDB, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db, err := connect(ctx, sqlDB, path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("restrict database permissions: %w", err)
	}
	return db, nil
}

// connect makes the first connection to sqlDB and checks that FTS5 is
// there; on failure it closes sqlDB.
func connect(ctx context.Context, sqlDB *sql.DB, path string) (*DB, error) {
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", path, friendly(err))
	}
	if err := checkFTS5(ctx, sqlDB); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return &DB{DB: sqlDB, path: path}, nil
}

func friendly(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return err
}

func checkFTS5(ctx context.Context, db *sql.DB) error {
	var ok int
	err := db.QueryRowContext(ctx, "SELECT sqlite_compileoption_used('ENABLE_FTS5')").Scan(&ok)
	if err != nil {
		return fmt.Errorf("check FTS5: %w", err)
	}
	if ok != 1 {
		return ErrNoFTS5
	}
	return nil
}

// Tx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise (also when fn panics).
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func sqlOpenRO(path string) (*sql.DB, error) {
	if path == ":memory:" {
		return sqlOpenMemory()
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_busy_timeout=2000"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// sqlOpenMemory opens a private in-memory database on one connection (each
// connection to ":memory:" would be a database of its own).
func sqlOpenMemory() (*sql.DB, error) {
	db, err := sql.Open("sqlite3", ":memory:?_foreign_keys=on")
	if err != nil {
		return nil, fmt.Errorf("open a database in memory: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetMaxIdleConns(1)
	return db, nil
}
