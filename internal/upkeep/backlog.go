package upkeep

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Backlog is background work that arrives at any time (messages to embed):
// Run does what is pending, in bounded steps it stores as it goes, and
// returns how much it did.
type Backlog struct {
	Name string
	// Every is the wait between passes when the last one succeeded.
	Every time.Duration
	// MaxWait caps the wait after failures, which doubles from Every.
	MaxWait time.Duration
	Run     func(ctx context.Context) (int, error)
}

// Work runs b until ctx ends. A failure is logged once until it changes
// or the work recovers (a missing model would otherwise log every pass),
// and waits grow after each failure, so a backend that is down costs
// little; when the work recovers it says so.
func (b Backlog) Work(ctx context.Context, log zerolog.Logger) {
	wait := b.Every
	lastErr := ""
	for {
		n, err := b.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			if err.Error() != lastErr {
				log.Warn().Err(err).Str("task", b.Name).Int("done", n).Dur("retry_in", min(2*wait, b.MaxWait)).Msg("background work failed; it retries with longer waits")
				lastErr = err.Error()
			}
			wait = min(2*wait, b.MaxWait)
		default:
			if lastErr != "" {
				log.Info().Str("task", b.Name).Msg("background work recovered")
				lastErr = ""
			}
			if n > 0 {
				log.Info().Str("task", b.Name).Int("done", n).Msg("background work done")
			}
			wait = b.Every
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
