package discord

import (
	"context"
	"database/sql"
	"errors"

	"github.com/bwmarrin/discordgo"
)

// promptOf is the owner's DM m as the chat core takes it. A reply to a
// message whose exchange the chat core stored (the owner's DM or Mai's
// answer) names it in ReplyTo, so that the answer continues from that
// point with its reply chain as the context, as llmcord does. A reply to
// anything else (a verdict, an approval, a message older than these
// links) has its chain quoted before the text instead.
func (b *Bot) promptOf(ctx context.Context, m *discordgo.Message) Prompt {
	if m.MessageReference == nil || m.MessageReference.MessageID == "" {
		return Prompt{Text: m.Content}
	}
	parent, err := b.storedAs(ctx, m.ChannelID, m.MessageReference.MessageID)
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: look up the message a DM replies to")
	}
	if parent != 0 {
		return Prompt{Text: m.Content, ReplyTo: parent}
	}
	return Prompt{Text: b.withChain(ctx, m)}
}

// storedAs returns the chat core's id of the Discord message id: the
// owner's DM as stored, or the answer one of Mai's messages shows; 0 when
// it has none. The latest answer counts, after 🔁 or an edit. With a
// channel, a message of Mai's whose send is in flight there is waited for
// (Outbox.RefOf); without one, storedAs does not wait.
func (b *Bot) storedAs(ctx context.Context, channel, id string) (int64, error) {
	var stored int64
	err := b.db.QueryRowContext(ctx, `SELECT message_id FROM discord_replies WHERE dm_id = ? AND message_id != 0 ORDER BY id DESC LIMIT 1`, id).Scan(&stored)
	if !errors.Is(err, sql.ErrNoRows) {
		return stored, err
	}
	ref, err := b.out.RefOf(ctx, channel, id)
	if err != nil || ref == 0 {
		return 0, err
	}
	err = b.db.QueryRowContext(ctx, `SELECT r.answer_id FROM discord_replies r, json_each(r.refs) e
		WHERE e.value = ? AND r.answer_id != 0 ORDER BY r.id DESC LIMIT 1`, int64(ref)).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return stored, err
}

// link records the chat core's ids of the message r answers and of its
// answer, which a later reply to r's DM or messages continues from.
func (r *reply) link(st Stats) {
	_, err := r.b.db.ExecContext(context.WithoutCancel(r.ctx), `UPDATE discord_replies SET message_id = ?, answer_id = ? WHERE id = ?`, st.MessageID, st.AnswerID, r.row)
	if err != nil {
		r.b.o.Log.Error().Err(err).Msg("discord: record what a reply stands for in memory")
	}
}
