package discord

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// exchangeForgetter is the part of the chat core that deletes one
// exchange from memory, named by a stored message id (Stats.MessageID or
// AnswerID), and says which stored message it continued from (0: the
// end); FromCore's Chat has it. ErrNotInMemory when it is not stored.
type exchangeForgetter interface {
	ForgetExchange(ctx context.Context, user string, id int64) (int64, error)
}

// ErrNotInMemory says the exchange to forget is not in memory (forgotten
// already, by a /forget or an earlier delete).
var ErrNotInMemory = errors.New("the exchange is not in Mai's memory")

// Reply chains: how far back a reply's chain is followed, and how much of
// each message is quoted.
const (
	maxChain      = 6
	maxChainQuote = 800
)

// wait waits for the reply to finish; false when ctx ended first.
func (r *reply) wait(ctx context.Context) bool {
	select {
	case <-r.finished:
		return true
	case <-ctx.Done():
		return false
	}
}

// redo answers text again in old's messages (🔁, an edited DM) instead of
// posting new ones, once old has finished; note, when set, heads the new
// answer. The new answer is the latest exchange in memory.
func (b *Bot) redo(ctx context.Context, old *reply, p Prompt, note string) *reply {
	if !old.wait(ctx) {
		return nil
	}
	r, err := newReply(ctx, b, old.channel, old.dmID, p)
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: start a reply")
		return nil
	}
	old.mu.Lock()
	refs := slices.Clone(old.refs)
	old.mu.Unlock()
	r.mu.Lock()
	r.refs, r.shown = refs, make([]string, len(refs))
	if note != "" {
		r.notes = []string{note}
	}
	r.saveRefs()
	r.mu.Unlock()
	b.mu.Lock()
	for _, ref := range refs {
		b.replies[ref] = r
	}
	if old.dmID != "" {
		b.asked[old.dmID] = r
	}
	b.latest = r
	b.mu.Unlock()
	b.stream(ctx, r, false)
	return r
}

// exchange finds the finished reply to the owner's DM dmID in channel and
// the chat core's id of the message it answers: the reply in memory while
// it is held (waiting for it to end), else as discord_replies recorded it,
// so that any DM is found, after a restart too. It returns nil when there
// is none, or it is not the owner's (another channel), or a restart is
// still finishing it.
func (b *Bot) exchange(ctx context.Context, dmID, channel string) (*reply, int64) {
	b.mu.Lock()
	r := b.asked[dmID]
	b.mu.Unlock()
	return b.exchangeOf(ctx, r, `dm_id = ? AND dm_id != ''`, dmID, channel)
}

// exchangeByRef is exchange for one of the reply's own messages.
func (b *Bot) exchangeByRef(ctx context.Context, ref Ref) (*reply, int64) {
	b.mu.Lock()
	r := b.replies[ref]
	b.mu.Unlock()
	channel := ""
	if r != nil {
		channel = r.channel
	}
	return b.exchangeOf(ctx, r, `id IN (SELECT r.id FROM discord_replies r, json_each(r.refs) e WHERE e.value = ?)`, int64(ref), channel)
}

// exchangeOf is exchange and exchangeByRef: r when held, else the latest
// row where (with arg) finds.
func (b *Bot) exchangeOf(ctx context.Context, r *reply, where string, arg any, channel string) (*reply, int64) {
	if r != nil {
		if !r.wait(ctx) {
			return nil, 0
		}
		where, arg = `id = ?`, r.row
	}
	var (
		row                int64
		ch, dm, text, refs string
		parent, stored     int64
		done               bool
	)
	err := b.db.QueryRowContext(ctx, `SELECT id, channel_id, dm_id, prompt, parent_id, refs, message_id, done FROM discord_replies
		WHERE `+where+` ORDER BY id DESC LIMIT 1`, arg).Scan(&row, &ch, &dm, &text, &parent, &refs, &stored, &done)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0
	}
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: look up an exchange")
		return nil, 0
	}
	if ch != channel && channel != "" || r == nil && !done {
		return nil, 0 // not the owner's DM, or a restart is finishing it
	}
	if r != nil {
		return r, stored
	}
	old := &reply{b: b, channel: ch, ctx: ctx, row: row, dmID: dm, prompt: Prompt{Text: text, ReplyTo: parent},
		typing: make(chan struct{}), finished: make(chan struct{})}
	close(old.finished)
	if err := json.Unmarshal([]byte(refs), &old.refs); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: read a reply's messages")
		return nil, 0
	}
	old.shown = make([]string, len(old.refs))
	return old, stored
}

// dmText is the text the owner's DM dmID was last answered for: an edit
// that leaves it (an embed changed) is no new question.
func (b *Bot) dmText(ctx context.Context, dmID string) string {
	var text string
	err := b.db.QueryRowContext(ctx, `SELECT prompt FROM discord_replies WHERE dm_id = ? AND dm_id != '' AND prompt != '/regenerate' ORDER BY id DESC LIMIT 1`, dmID).Scan(&text)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		b.o.Log.Error().Err(err).Msg("discord: read an edited DM's text")
	}
	return text
}

// forgetStored forgets the exchange of the stored message id; the replies
// that stood for it no longer do, so a reply to them is not answered
// from a forgotten point. It returns where the exchange continued from.
func (b *Bot) forgetStored(ctx context.Context, stored int64) (int64, bool) {
	fg, ok := b.chat.(exchangeForgetter)
	if !ok || stored == 0 {
		return 0, false
	}
	parent, err := fg.ForgetExchange(ctx, b.o.Owner, stored)
	if err != nil && !errors.Is(err, ErrNotInMemory) {
		b.o.Log.Error().Err(err).Msg("discord: forget an exchange")
		return 0, false
	}
	if _, err := b.db.ExecContext(context.WithoutCancel(ctx), `UPDATE discord_replies SET message_id = 0, answer_id = 0 WHERE message_id = ?`, stored); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: unlink a forgotten exchange")
	}
	return parent, true
}

// onEdit answers an edited DM again: its exchange is forgotten, the new
// text is answered from the point where the old one was (the message it
// continued from), and the new answer replaces the old one in its
// messages.
func (b *Bot) onEdit(ctx context.Context, m *discordgo.Message) {
	if m == nil || m.Author == nil || m.Author.ID != b.o.Owner || m.GuildID != "" || m.EditedTimestamp == nil {
		return // an update without an edit: Discord added an embed
	}
	if b.editWaiting(ctx, m) {
		return // answered with its new text at its turn
	}
	old, stored := b.exchange(ctx, m.ID, m.ChannelID)
	if old == nil {
		return // not a DM Mai answered
	}
	p := b.promptOf(ctx, m)
	if p.Text == b.dmText(ctx, m.ID) {
		return
	}
	parent, ok := b.forgetStored(ctx, stored)
	if !ok {
		b.o.Log.Info().Str("message", m.ID).Msg("discord: the owner edited a DM whose exchange is not in memory; memory is unchanged")
		return
	}
	if p.ReplyTo == 0 {
		p.ReplyTo = parent
	}
	p.Images = old.prompt.Images
	b.redo(ctx, old, p, "✏️ answered again: you edited your message")
}

// Forgotten replaces the answer to a DM the owner deleted; ForgottenByReaction
// the answer the owner's 🗑️ took out of memory.
const (
	Forgotten           = "🗑️ forgotten: you deleted the message"
	ForgottenByReaction = "🗑️ forgotten: this exchange is out of Mai's memory"
)

// onDelete forgets the exchange of a deleted DM and says so in its reply.
// A delete event carries no author: only a DM in the owner's channel
// that Mai answered is found.
func (b *Bot) onDelete(ctx context.Context, m *discordgo.Message) {
	if m == nil || m.GuildID != "" {
		return
	}
	if b.dropWaiting(ctx, m.ID) {
		return
	}
	old, stored := b.exchange(ctx, m.ID, m.ChannelID)
	if old == nil {
		return
	}
	b.forget(ctx, old, stored, Forgotten)
}

// forget takes old's exchange out of memory and shows note instead of
// its answer.
func (b *Bot) forget(ctx context.Context, old *reply, stored int64, note string) {
	if _, ok := b.forgetStored(ctx, stored); !ok {
		b.o.Log.Info().Int64("reply", old.row).Msg("discord: the owner took back an exchange that is not in memory; memory is unchanged")
		return
	}
	b.mu.Lock()
	if b.latest == old {
		b.latest = nil
	}
	b.mu.Unlock()
	old.mu.Lock()
	defer old.mu.Unlock()
	old.text.Reset()
	old.notes, old.outputs, old.footer = []string{note}, nil, ""
	old.render()
}

// withChain returns m's text, preceded by the chain of messages it replies
// to (oldest first) when it is a reply, so that the answer continues from
// that point.
func (b *Bot) withChain(ctx context.Context, m *discordgo.Message) string {
	if m.MessageReference == nil {
		return m.Content
	}
	var chain []string
	prev := m.ReferencedMessage
	ref := m.MessageReference
	for len(chain) < maxChain && ref != nil && ref.MessageID != "" {
		if prev == nil || prev.ID != ref.MessageID {
			var err error
			if prev, err = b.s.ChannelMessage(ref.ChannelID, ref.MessageID, discordgo.WithContext(ctx)); err != nil {
				b.o.Log.Debug().Err(err).Msg("discord: follow a reply chain")
				break
			}
		}
		who := "I (the owner)"
		if prev.Author != nil && prev.Author.ID == b.botID() {
			who = "You (Mai)"
		}
		chain = append(chain, fmt.Sprintf("%s wrote:\n%s", who, quote(prev.Content)))
		ref, prev = prev.MessageReference, prev.ReferencedMessage
	}
	if len(chain) == 0 {
		return m.Content
	}
	slices.Reverse(chain)
	return "[This replies to an earlier point of our conversation; continue from there.]\n" +
		strings.Join(chain, "\n") + "\n\n" + m.Content
}

// quote quotes a message of a reply chain, without a reply's "-#" lines
// (tool activity, notices, the footer), cut to maxChainQuote characters.
func quote(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "-# ") {
			lines = append(lines, "> "+l)
		}
	}
	q := strings.Join(lines, "\n")
	if rs := []rune(q); len(rs) > maxChainQuote {
		q = string(rs[:maxChainQuote]) + "…"
	}
	return q
}
