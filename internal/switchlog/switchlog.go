// Package switchlog keeps the router's state in the database: its model
// switches, so `mai status` shows the last ones after a restart; the
// owner's pinned model, which survives one; and the instances the router
// loaded, which a restarted Mai may still unload.
package switchlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/maicompanion/mai/internal/router"
)

// Log reads and writes the model_switches, model_pin and router_instances
// tables. It is the router's Ledger.
type Log struct{ db *sql.DB }

// New returns a Log over a migrated database.
func New(db *sql.DB) *Log { return &Log{db: db} }

// Record stores one switch.
func (l *Log) Record(ctx context.Context, s router.Switch) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO model_switches (at, from_ref, to_ref, cause, reason) VALUES (?, ?, ?, ?, ?)`,
		s.At.UTC().Format(time.RFC3339Nano), s.From, s.To, string(s.Cause), s.Reason)
	if err != nil {
		return fmt.Errorf("record model switch: %w", err)
	}
	return nil
}

// Recent returns the last n switches, oldest first.
func (l *Log) Recent(ctx context.Context, n int) ([]router.Switch, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT at, from_ref, to_ref, cause, reason FROM
		(SELECT id, at, from_ref, to_ref, cause, reason FROM model_switches ORDER BY id DESC LIMIT ?) ORDER BY id`, n)
	if err != nil {
		return nil, fmt.Errorf("read model switches: %w", err)
	}
	defer rows.Close()
	out := []router.Switch{}
	for rows.Next() {
		var s router.Switch
		var at, cause string
		if err := rows.Scan(&at, &s.From, &s.To, &cause, &s.Reason); err != nil {
			return nil, fmt.Errorf("read model switches: %w", err)
		}
		s.At, _ = time.Parse(time.RFC3339Nano, at)
		s.Cause = router.Cause(cause)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Pin remembers the owner's chosen model; "" clears the pin.
func (l *Log) Pin(ctx context.Context, ref string) error {
	var err error
	if ref == "" {
		_, err = l.db.ExecContext(ctx, `DELETE FROM model_pin`)
	} else {
		_, err = l.db.ExecContext(ctx, `INSERT INTO model_pin (id, ref, at) VALUES (1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET ref = excluded.ref, at = excluded.at`, ref, time.Now().UTC().Format(time.RFC3339))
	}
	if err != nil {
		return fmt.Errorf("pin model: %w", err)
	}
	return nil
}

// Pinned returns the pinned model, or "" when none is pinned.
func (l *Log) Pinned(ctx context.Context) (string, error) {
	var ref string
	err := l.db.QueryRowContext(ctx, `SELECT ref FROM model_pin WHERE id = 1`).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read pinned model: %w", err)
	}
	return ref, nil
}

// Instances returns the model instances the router recorded as its own.
func (l *Log) Instances(ctx context.Context) ([]router.OwnedInstance, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT backend, endpoint, instance_id, model, loaded_at FROM router_instances ORDER BY loaded_at`)
	if err != nil {
		return nil, fmt.Errorf("read the router's instances: %w", err)
	}
	defer rows.Close()
	var out []router.OwnedInstance
	for rows.Next() {
		var in router.OwnedInstance
		var at string
		if err := rows.Scan(&in.Backend, &in.Endpoint, &in.ID, &in.Model, &at); err != nil {
			return nil, fmt.Errorf("read the router's instances: %w", err)
		}
		in.LoadedAt, _ = time.Parse(time.RFC3339Nano, at)
		out = append(out, in)
	}
	return out, rows.Err()
}

// AddInstance records an instance the router loaded.
func (l *Log) AddInstance(ctx context.Context, in router.OwnedInstance) error {
	_, err := l.db.ExecContext(ctx, `INSERT INTO router_instances (backend, endpoint, instance_id, model, loaded_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (endpoint, instance_id) DO UPDATE SET model = excluded.model, loaded_at = excluded.loaded_at`,
		in.Backend, in.Endpoint, in.ID, in.Model, in.LoadedAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record the loaded instance %s: %w", in.ID, err)
	}
	return nil
}

// RemoveInstance forgets an instance: unloaded, or gone from its server.
func (l *Log) RemoveInstance(ctx context.Context, endpoint, id string) error {
	if _, err := l.db.ExecContext(ctx, `DELETE FROM router_instances WHERE endpoint = ? AND instance_id = ?`, endpoint, id); err != nil {
		return fmt.Errorf("forget the instance %s: %w", id, err)
	}
	return nil
}
