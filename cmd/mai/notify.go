package main

import (
	"context"

	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/notify"
)

// startNotify starts the owner's notices: components going down and
// coming back (from the health registry; a broken audit chain at start too),
// approval requests about to expire, and the audit head daily and on
// /audit. They are DMed through the Discord bot's outbox when Discord is
// configured and MAI_NOTIFY is on, and logged otherwise. It starts right
// after the audit log, so that it hears every later component's start, and
// stops after Discord: what it queues meanwhile waits in the database.
func (d *daemonParts) startNotify(ctx context.Context) (func(context.Context), error) {
	cfg, log := d.m.cfg, logging.Component(d.log, "notify")
	var sender notify.Sender
	sentTo := "the daemon's log (Discord is off)"
	switch {
	case !cfg.Notify.On:
		sentTo = "the daemon's log (MAI_NOTIFY is off)"
		log.Info().Msg("MAI_NOTIFY is off: the owner's notices go to the log only")
	case d.bot == nil:
		log.Info().Msg("Discord is off: the owner's notices go to the log only")
	default:
		sender, sentTo = d.bot, "your Discord DMs"
	}
	db := d.led.db.DB
	n := notify.New(notify.Options{
		DB: db, Sender: sender, Health: d.health, Critical: map[string]bool{"audit": true}, Approvals: d.led.approvals,
		Head:     func(ctx context.Context) (audit.Head, error) { return audit.LatestHead(ctx, db) },
		Interval: cfg.Notify.Interval, ExpiryWarning: cfg.Notify.ExpiryWarning, Log: log,
	})
	d.notices = n
	d.led.sendHead = func(ctx context.Context) (audit.Head, string, error) {
		h, err := n.AuditHead(ctx)
		return h, sentTo, err
	}
	return goRun(ctx, d.log, "notify", n.Run), nil
}
