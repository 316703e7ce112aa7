package main

import (
	"context"
	"fmt"

	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/store"
)

// queueDepths is what waits, as mai status shows it.
type queueDepths struct {
	Outbox    int   `json:"outbox"`    // Discord messages, edits and reactions not delivered yet
	Approvals int   `json:"approvals"` // requests waiting for the owner's decision
	Embedding int64 `json:"embedding"` // messages waiting for a vector
	Notices   int   `json:"notices"`   // the owner's notices waiting for MAI_NOTIFY_INTERVAL
}

// readQueues counts the queues in the database. It only reads, so mai
// status can count beside a daemon, or without one.
func readQueues(ctx context.Context, db *store.DB) (queueDepths, error) {
	var q queueDepths
	counts := []struct {
		to    *int
		query string
	}{
		{&q.Outbox, `SELECT count(*) FROM discord_outbox WHERE state = 'pending'`},
		{&q.Approvals, `SELECT count(*) FROM approvals WHERE state = 'pending'`},
		{&q.Notices, `SELECT count(*) FROM notify_queue`},
	}
	for _, c := range counts {
		if err := db.QueryRowContext(ctx, c.query).Scan(c.to); err != nil {
			return q, fmt.Errorf("count the queues: %w", err)
		}
	}
	b, err := memory.New(db, memory.Options{}).Backlog(ctx)
	q.Embedding = b.Pending
	return q, err
}
