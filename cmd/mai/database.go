package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/maicompanion/mai/internal/store"
)

// dbAccess says whether a command may change the database. Read commands
// (status, models list|status|probe, memory search|stats|export|facts)
// open it read-only: they never create it, migrate it or open the log file
// for writing, so they are safe beside a running daemon.
type dbAccess int

const (
	readOnly dbAccess = iota
	readWrite
)

// openDB opens the configured database for access. A read-only open of a
// database that does not exist yet fails with store.ErrNoDatabase.
func (m *Main) openDB(ctx context.Context, access dbAccess) (*store.DB, error) {
	var db *store.DB
	var err error
	if access == readWrite {
		db, err = store.Open(ctx, m.cfg.MemoryDBPath, store.Options{})
	} else {
		db, err = store.OpenReadOnly(ctx, m.cfg.MemoryDBPath, store.Options{})
	}
	if err != nil {
		return nil, m.explainDB(err)
	}
	return db, nil
}

// explainDB adds what to do to a database error a read command met.
func (m *Main) explainDB(err error) error {
	switch {
	case errors.Is(err, store.ErrNoDatabase):
		return fmt.Errorf("%w: Mai has no memory yet ('mai serve' creates the database, 'mai memory import' fills it)", err)
	case errors.Is(err, store.ErrOutdated):
		return fmt.Errorf("%w: start 'mai serve' once to upgrade it (it backs the database up first), then try again", err)
	}
	return err
}
