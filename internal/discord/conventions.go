package discord

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// lastExchangeForgetter is the part of the chat core that deletes the
// latest exchange from memory; FromCore's Chat has it.
type lastExchangeForgetter interface {
	ForgetLast(ctx context.Context, user string) error
}

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
// answer.
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
	for id, a := range b.asked {
		if a == old {
			b.asked[id] = r
		}
	}
	if b.latest == old {
		b.latest = r
	}
	b.mu.Unlock()
	b.stream(ctx, r, false)
	return r
}

// latestExchange returns the reply to the owner's DM id, once finished,
// when it is the latest one and the chat core can forget it; else it logs
// why nothing is done.
func (b *Bot) latestExchange(ctx context.Context, id, what string) (*reply, lastExchangeForgetter) {
	b.mu.Lock()
	old := b.asked[id]
	latest := old != nil && old == b.latest
	b.mu.Unlock()
	if old == nil {
		return nil, nil
	}
	fg, ok := b.chat.(lastExchangeForgetter)
	if !latest || !ok || !old.wait(ctx) {
		b.o.Log.Info().Str("message", id).Msgf("discord: the owner %s a DM that is not the latest finished exchange; memory is unchanged", what)
		return nil, nil
	}
	return old, fg
}

// onEdit answers an edited DM again: the old exchange is forgotten and the
// new answer replaces the old one in its messages.
func (b *Bot) onEdit(ctx context.Context, m *discordgo.Message) {
	if m == nil || m.Author == nil || m.Author.ID != b.o.Owner || m.GuildID != "" {
		return
	}
	old, fg := b.latestExchange(ctx, m.ID, "edited")
	if old == nil {
		return // not ours to redo
	}
	p := b.promptOf(ctx, m)
	if p.Text == old.prompt.Text {
		return // only an embed changed
	}
	if err := fg.ForgetLast(ctx, b.o.Owner); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: forget an edited exchange")
		return
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
func (b *Bot) onDelete(ctx context.Context, m *discordgo.Message) {
	if m == nil || m.GuildID != "" {
		return
	}
	old, fg := b.latestExchange(ctx, m.ID, "deleted")
	if old == nil {
		return
	}
	b.forget(ctx, old, fg, Forgotten)
}

// forget takes the latest exchange out of memory and shows note instead
// of its answer.
func (b *Bot) forget(ctx context.Context, old *reply, fg lastExchangeForgetter, note string) {
	if !old.wait(ctx) {
		return
	}
	if err := fg.ForgetLast(ctx, b.o.Owner); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: forget the latest exchange")
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
