// Package upkeep runs the daemon's periodic chores (database backups, the
// memory compression pass) when they are due, including right at start-up
// when a chore is overdue, so a daemon restarted often still backs up daily
// and one that runs for months still compresses.
package upkeep

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Task is one chore.
type Task struct {
	Name  string
	Every time.Duration
	// Last returns when the chore last ran, as recorded outside this process
	// (the newest backup file's time); nil means "not since this start".
	Last func() (time.Time, error)
	Run  func(ctx context.Context) error
}

// Loop runs each task whenever it is due, checking every tick, until ctx
// ends. A failed task is logged and retried at its next due time; it never
// stops the loop.
func Loop(ctx context.Context, log zerolog.Logger, tasks []Task, tick time.Duration, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	ran := make([]time.Time, len(tasks)) // this process's last attempt
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		for i, task := range tasks {
			if ctx.Err() != nil {
				return
			}
			last := ran[i]
			if task.Last != nil {
				if l, err := task.Last(); err == nil && l.After(last) {
					last = l
				}
			}
			if !last.IsZero() && now().Sub(last) < task.Every {
				continue
			}
			ran[i] = now()
			start := time.Now()
			if err := task.Run(ctx); err != nil {
				if ctx.Err() == nil {
					log.Error().Err(err).Str("task", task.Name).Msg("upkeep task failed; it runs again when next due")
				}
				continue
			}
			log.Info().Str("task", task.Name).Dur("took", time.Since(start)).Msg("upkeep task done")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
