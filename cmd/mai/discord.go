package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/discord"
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
// bot says chat is off and still shows approvals) until ctx ends,
// connecting again (after 2 s, doubling to a minute) while Discord cannot
// be reached at start; discordgo itself reconnects a session that drops
// later. A nil bot runs nothing.
func (m *Main) discordLoop(bot *discord.Bot, cc *chatCore, led *ledger, mem *memory.Store, log zerolog.Logger) func(context.Context) error {
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
		wait := 2 * time.Second
		for {
			err := bot.Run(ctx)
			if ctx.Err() != nil {
				return nil
			}
			log.Warn().Err(err).Dur("retry_in", wait).Msg("Discord is unreachable; trying again")
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil
			}
			wait = min(wait*2, time.Minute)
		}
	}
}
