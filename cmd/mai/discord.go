package main

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/store"
)

// discordBot returns the Discord front end when DISCORD_BOT_TOKEN and
// DISCORD_USER_ID are set, and nil otherwise.
func (m *Main) discordBot(db *store.DB, log zerolog.Logger) (*discord.Bot, error) {
	cfg := m.cfg
	if cfg.DiscordBotToken == "" || cfg.DiscordUserID == "" {
		return nil, nil
	}
	s, err := discord.NewSession(cfg.DiscordBotToken.Reveal(), cfg.DiscordAPIURL)
	if err != nil {
		return nil, err
	}
	s.LogLevel = -1 // discordgo logs to stderr by itself; the bot logs what matters
	return discord.New(s, db.DB, nil, discord.Options{
		Owner: cfg.DiscordUserID, EditInterval: cfg.DiscordEditInterval,
		RefuseOthers: cfg.DiscordRefuseOthers, Footer: cfg.DiscordFooter, Log: log,
	}), nil
}

// discordLoop runs the bot over the daemon's chat core (without one the
// bot says chat is off and still shows approvals) until ctx ends. A token
// Discord refuses, or a gateway it cannot reach, is one warning line and a
// Down state, then retried with backoff; discordgo itself reconnects a
// session that drops later, shown as degraded until it is back. A nil bot
// runs nothing.
func (m *Main) discordLoop(bot *discord.Bot, cc *chatCore, led *ledger, mem *memory.Store, reg *health.Registry, log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		if bot == nil {
			<-ctx.Done()
			return nil
		}
		if cc != nil {
			bot.SetChat(discord.FromCore(cc.core))
		}
		bot.SetApprovals(led.approvals)
		bot.SetMemory(mem)
		retry := retrier{name: "discord", log: log, health: reg}
		for {
			err := bot.CheckToken(ctx)
			if err == nil {
				watchCtx, stopWatch := context.WithCancel(ctx)
				watched := make(chan struct{})
				go func() { watchDiscord(watchCtx, bot, &retry, reg); close(watched) }()
				err = bot.Run(ctx)
				stopWatch()
				<-watched // retry is this goroutine's again
			}
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("the gateway session ended")
			}
			if !sleep(ctx, retry.failed(err, "Discord DMs are off until Discord accepts Mai")) {
				return nil
			}
		}
	}
}

// watchDiscord shows the gateway session in the registry: up while
// connected, degraded while discordgo reconnects.
func watchDiscord(ctx context.Context, bot *discord.Bot, retry *retrier, reg *health.Registry) {
	was := false
	for sleep(ctx, 250*time.Millisecond) {
		now := bot.Connected()
		switch {
		case now && !was:
			retry.up("connected to the gateway")
		case !now && was:
			reg.Set("discord", health.Degraded, "the gateway session dropped; reconnecting", nil)
		}
		was = now
	}
}
