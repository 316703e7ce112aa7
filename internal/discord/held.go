package discord

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bwmarrin/discordgo"
)

// Hold makes the bot keep the owner's new DMs for the next start instead
// of answering them. mai serve calls it as it begins to stop, so that a DM
// arriving while running answers drain is neither lost nor started by a
// process on its way out.
func (b *Bot) Hold() { b.holding.Store(true) }

// hold keeps m for the next start.
func (b *Bot) hold(ctx context.Context, m *discordgo.Message) {
	if err := b.keep(ctx, m); err != nil {
		b.o.Log.Error().Err(err).Str("dm", m.ID).Msg("discord: a DM that arrived while stopping could not be kept")
		return
	}
	b.o.Log.Info().Str("dm", m.ID).Msg("discord: a DM arrived while Mai is stopping; it is answered at the next start")
}

// keep stores m among the held DMs, which the next start answers unless
// their reply had begun; a DM with files is kept so while it waits for its
// turn, since its reply is recorded only then.
func (b *Bot) keep(ctx context.Context, m *discordgo.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = b.db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO discord_held (message_id, message, received) VALUES (?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
		m.ID, string(data), now())
	return err
}

// unkeep forgets the held DM id: it has been answered, or deleted.
func (b *Bot) unkeep(ctx context.Context, id string) {
	if _, err := b.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM discord_held WHERE message_id = ?`, id); err != nil {
		b.o.Log.Error().Err(err).Str("dm", id).Msg("discord: forget a held DM")
	}
}

// queueHeld queues the DMs held while the last run stopped, in the order
// they came, as if they arrived now; Run calls it before the gateway
// delivers anything new. One whose answer had begun is left to the
// resumption of interrupted replies; a new Hold leaves the rest held.
func (b *Bot) queueHeld(ctx context.Context) {
	held, err := b.heldDMs(ctx)
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: the DMs held at the last stop")
		return
	}
	for _, m := range held {
		if b.holding.Load() || ctx.Err() != nil {
			return
		}
		var started int
		if err := b.db.QueryRowContext(ctx, `SELECT count(*) FROM discord_replies WHERE dm_id = ?`, m.ID).Scan(&started); err != nil {
			b.o.Log.Error().Err(err).Msg("discord: the DMs held at the last stop")
			return
		}
		if started == 0 {
			b.o.Log.Info().Str("dm", m.ID).Msg("discord: answering a DM held at the last stop")
			b.dispatch(ctx, m)
			if len(m.Attachments) > 0 {
				continue // kept until its turn is over
			}
		}
		b.unkeep(ctx, m.ID)
	}
}

func (b *Bot) heldDMs(ctx context.Context) ([]*discordgo.Message, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT message FROM discord_held ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*discordgo.Message
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var m discordgo.Message
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			return nil, fmt.Errorf("a held DM: %w", err)
		}
		out = append(out, &m)
	}
	return out, rows.Err()
}
