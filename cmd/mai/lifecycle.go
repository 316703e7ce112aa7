package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/health"
)

// lifecycle starts the daemon's components one after the other, in the
// order serve gives, and stops them in the reverse order. Every start logs
// "starting X" and its result, every stop "stopped X"; the health registry
// holds each component's state for mai status.
type lifecycle struct {
	log    zerolog.Logger
	health *health.Registry
	stops  []stopper
}

type stopper struct {
	name string
	stop func(ctx context.Context)
}

// step starts component name with fn, which returns how to stop it (nil
// when nothing needs stopping) or why it could not start; an error here
// stops the daemon's start.
func (l *lifecycle) step(ctx context.Context, name string, fn func(ctx context.Context) (func(context.Context), error)) error {
	l.log.Info().Str("part", name).Msg("starting " + name)
	l.health.Set(name, health.Starting, "", nil)
	stop, err := fn(ctx)
	if err != nil {
		l.health.Set(name, health.Down, err.Error(), err)
		l.log.Error().Str("part", name).Err(err).Msg("cannot start " + name)
		return fmt.Errorf("%s: %w", name, err)
	}
	// Still starting as the step left it: up. A component that said what
	// it is still doing (connecting to Docker, probing the backends)
	// reports up itself when it is; marking it up here would show it up
	// before it is, and tell the owner it went down when it fails.
	if c, _ := l.health.Get(name); c.State == health.Starting && c.Detail == "" {
		l.health.Set(name, health.Up, "", nil)
	}
	c, _ := l.health.Get(name)
	ev := l.log.Info()
	if c.State == health.Down || c.State == health.Degraded {
		ev = l.log.Warn()
	}
	ev.Str("part", name).Str("state", string(c.State)).Str("detail", c.Detail).Msg("started " + name)
	if stop == nil {
		stop = func(context.Context) {}
	}
	l.stops = append(l.stops, stopper{name, stop})
	return nil
}

// background starts run as component name in its own goroutine, to be
// cancelled and waited for at stop.
func (l *lifecycle) background(ctx context.Context, name string, run func(ctx context.Context) error) error {
	return l.step(ctx, name, func(ctx context.Context) (func(context.Context), error) {
		return goRun(ctx, l.log, name, run), nil
	})
}

// goRun runs run in a goroutine under its own context; the returned stop
// cancels it and waits until it returns or the stop's context ends.
func goRun(ctx context.Context, log zerolog.Logger, name string, run func(ctx context.Context) error) func(context.Context) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error().Str("part", name).Err(err).Msg(name + " stopped with an error")
		}
	}()
	return func(stopCtx context.Context) {
		cancel()
		select {
		case <-done:
		case <-stopCtx.Done():
			log.Warn().Str("part", name).Msg(name + " did not stop in time")
		}
	}
}

// stop stops every started component in the reverse order of their start,
// each within what is left of ctx.
func (l *lifecycle) stop(ctx context.Context) {
	for i := len(l.stops) - 1; i >= 0; i-- {
		s := l.stops[i]
		s.stop(ctx)
		l.log.Info().Str("part", s.name).Msg("stopped " + s.name)
	}
	l.stops = nil
}

// Backoff of a component that cannot start or was lost: the first retry
// after retryFirst, doubling to retryMax.
const (
	retryFirst = time.Second
	retryMax   = time.Minute
)

// retrier tells a component's failures and recoveries once each: the
// first failure is one warning line and a Down state in the registry;
// further failures while down only update the detail (and the debug log);
// the recovery is one info line and Up.
type retrier struct {
	name   string
	log    zerolog.Logger
	health *health.Registry
	down   bool
	wait   time.Duration
}

// failed records err, with what stays unavailable meanwhile, and returns
// how long to wait before the next attempt.
func (r *retrier) failed(err error, unavailable string) time.Duration {
	if r.wait == 0 {
		r.wait = retryFirst
	} else {
		r.wait = min(r.wait*2, retryMax)
	}
	detail := unavailable + "; retried with backoff, at least once a minute"
	if !r.down {
		r.log.Warn().Str("part", r.name).Err(err).Msg(r.name + " is unavailable: " + detail + " (mai status shows it)")
	} else {
		r.log.Debug().Str("part", r.name).Err(err).Dur("retry_in", r.wait).Msg(r.name + " still unavailable")
	}
	r.down = true
	r.health.Set(r.name, health.Down, detail, err)
	return r.wait
}

// up records that the component works (again).
func (r *retrier) up(detail string) {
	if r.down {
		r.log.Info().Str("part", r.name).Msg(r.name + " is back")
	}
	r.down, r.wait = false, 0
	r.health.Set(r.name, health.Up, detail, nil)
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
