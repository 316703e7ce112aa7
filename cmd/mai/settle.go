package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/selfmod"
)

// settleEvery is how often the daemon looks for self-modifications decided
// by another process that did not complete them itself (one query while
// none is pending); a decision made in the daemon completes at once.
const settleEvery = 30 * time.Second

// selfmodWaker is the approval listener that wakes the daemon's settler
// when a self-modification request is decided in the daemon (the owner's
// 👍 on Discord, a decision in mai chat, an expiry).
type selfmodWaker chan struct{}

func (w selfmodWaker) Requested(context.Context, approval.Request) {}
func (w selfmodWaker) Reminded(context.Context, approval.Request)  {}
func (w selfmodWaker) Decided(_ context.Context, r approval.Request) {
	if r.Kind != approval.KindSelfMod {
		return
	}
	select {
	case w <- struct{}{}:
	default: // a wake-up is already due
	}
}

// selfmodSettler completes decided self-modifications in the daemon: what
// a crash left first, then each one as soon as its decision arrives. The
// pipeline's lock and its state check make each commit or discard happen
// once, even when a mai command settles the same proposal.
// Its checks run in the daemon's shared sandbox (checks).
func (m *Main) selfmodSettler(led *ledger, wake selfmodWaker, checks selfmod.Checker, log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		o, closeChecks, err := m.selfmodOptions(ctx, led, nil, checks, func(err error) { log.Info().Err(err).Msg("self-modification checks are unavailable") })
		if err != nil {
			log.Warn().Err(err).Msg("decided self-modifications wait for the next mai selfmod command")
			<-ctx.Done()
			return nil
		}
		defer closeChecks()
		svc, err := selfmod.New(o)
		if err == nil {
			err = svc.Recover(ctx)
		}
		if err != nil {
			log.Warn().Err(err).Msg("decided self-modifications wait for the next mai selfmod command")
			<-ctx.Done()
			return nil
		}
		t := time.NewTicker(settleEvery)
		defer t.Stop()
		for {
			done, err := svc.Settle(ctx)
			for _, r := range done {
				log.Info().Str("proposal", r.ID).Str("state", string(r.State)).Str("commit", r.Commit).Msg("self-modification settled")
			}
			if err != nil && ctx.Err() == nil {
				log.Warn().Err(err).Msg("completing decided self-modifications")
			}
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			case <-t.C:
			}
		}
	}
}
