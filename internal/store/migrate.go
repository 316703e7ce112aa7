package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNewerDatabase means the database has migrations this Mai does not know.
var ErrNewerDatabase = errors.New("database was written by a newer Mai")

// ErrChangedMigration means an applied migration's file no longer matches.
var ErrChangedMigration = errors.New("an applied migration has changed")

// Migration is one numbered SQL file.
type Migration struct {
	Version  int
	Name     string // file name
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// Status is where a database stands against the known migrations.
type Status struct {
	Applied []int
	Pending []Migration
	// Latest is the highest known migration version.
	Latest int
}

// LoadMigrations reads NNNN_name.sql files from fsys, sorted by version.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		out = append(out, Migration{Version: v, Name: path.Base(name), SQL: string(data), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	checksum   TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// status compares the applied migrations with the known ones, without
// changing anything.
func (db *DB) status(ctx context.Context, known []Migration) (Status, error) {
	st := Status{}
	if len(known) > 0 {
		st.Latest = known[len(known)-1].Version
	}
	var exists int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'`).Scan(&exists); err != nil {
		return st, fmt.Errorf("read schema: %w", err)
	}
	applied := map[int]string{}
	names := map[int]string{}
	if exists == 1 {
		rows, err := db.QueryContext(ctx, `SELECT version, name, checksum FROM schema_migrations ORDER BY version`)
		if err != nil {
			return st, fmt.Errorf("read schema_migrations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v int
			var name, sum string
			if err := rows.Scan(&v, &name, &sum); err != nil {
				return st, fmt.Errorf("read schema_migrations: %w", err)
			}
			applied[v], names[v] = sum, name
			st.Applied = append(st.Applied, v)
		}
		if err := rows.Err(); err != nil {
			return st, fmt.Errorf("read schema_migrations: %w", err)
		}
	}
	byVersion := map[int]Migration{}
	for _, m := range known {
		byVersion[m.Version] = m
	}
	for _, v := range st.Applied {
		m, ok := byVersion[v]
		if !ok {
			return st, fmt.Errorf("%w: %s has migration %d (%s), which this Mai does not know; upgrade Mai, or restore a backup made by this version", ErrNewerDatabase, db.path, v, names[v])
		}
		if m.Checksum != applied[v] {
			return st, fmt.Errorf("%w: %s was applied to %s with checksum %.12s but the file now has %.12s; restore the original file and put the change in a new migration", ErrChangedMigration, m.Name, db.path, applied[v], m.Checksum)
		}
	}
	for _, m := range known {
		if _, ok := applied[m.Version]; !ok {
			st.Pending = append(st.Pending, m)
		}
	}
	return st, nil
}

// migrate applies pending migrations, each in its own transaction, after
// backing up a database that already holds data. It returns the backup's
// path, or "" when none was needed.
func (db *DB) migrate(ctx context.Context, fsys fs.FS) (string, error) {
	known, err := LoadMigrations(fsys)
	if err != nil {
		return "", err
	}
	st, err := db.status(ctx, known)
	if err != nil {
		return "", err
	}
	if len(st.Pending) == 0 {
		return "", nil
	}
	var backup string
	if len(st.Applied) > 0 {
		if backup, err = db.Backup(ctx, ""); err != nil {
			return "", fmt.Errorf("back up before migrating (nothing was changed): %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return backup, fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range st.Pending {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			// Another process opening the same new database may have
			// applied it since status was read; the transaction holds the
			// write lock, so this answer stays true until it ends.
			var done int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
				m.Version, m.Name, m.Checksum, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return backup, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return backup, nil
}
