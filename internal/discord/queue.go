package discord

import (
	"context"
	"slices"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// The owner's DMs that are turns (not commands) are answered one after
// the other, in the order the gateway delivered them, by one worker
// (answerTurns): each is recorded in discord_replies as it arrives, so a
// stop or a crash while it waits loses nothing, and waits in b.turns for
// its turn. Only the answer being generated shows "typing"; the owner
// learns of the waiting ones from the presence (answering… · N waiting),
// which is updated anyway when an answer starts or ends, so a waiting DM
// costs no REST call before its turn.

// turn is one of the owner's DMs waiting for its answer.
type turn struct {
	dmID string
	r    *reply             // recorded at arrival; nil for a DM with files
	m    *discordgo.Message // the DM, whose prompt is read at its turn; nil for a resumed reply
	// fresh says the chat core has not seen it yet: it is answered with
	// Send, and an edit or a delete while it waits needs no memory change.
	fresh bool
	redo  bool                  // continues an answer a restart interrupted
	ready chan struct{}         // a DM with files: closed once they are fetched
	work  func(context.Context) // a DM with files: its answer, set before ready closes
}

// push puts t at the end of the queue.
func (b *Bot) push(t *turn) {
	b.mu.Lock()
	b.turns = append(b.turns, t)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// pop takes the first turn off the queue, nil when it is empty.
func (b *Bot) pop() *turn {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.turns) == 0 {
		return nil
	}
	t := b.turns[0]
	b.turns = b.turns[1:]
	return t
}

// orderTurns puts what a restart queued in the order it came: answers
// the restart interrupted first, then the DMs that waited, by their ids
// (Discord's ids grow with time), whether their reply was recorded or the
// DM was kept (one with files, or held while stopping).
func (b *Bot) orderTurns() {
	b.mu.Lock()
	defer b.mu.Unlock()
	slices.SortStableFunc(b.turns, func(x, y *turn) int {
		if x.redo != y.redo {
			if x.redo {
				return -1
			}
			return 1
		}
		return compareIDs(x.dmID, y.dmID)
	})
}

// compareIDs orders two Discord ids (decimal snowflakes) by value.
func compareIDs(x, y string) int {
	if len(x) != len(y) {
		return len(x) - len(y)
	}
	return strings.Compare(x, y)
}

// answerTurns answers the queued DMs one after the other until ctx ends.
// Once the bot holds (it is stopping) it starts none: a recorded one is
// answered at the next start, a DM with files is held as arriving DMs are.
func (b *Bot) answerTurns(ctx context.Context) {
	for ctx.Err() == nil {
		t := b.pop()
		if t == nil {
			select {
			case <-b.wake:
			case <-ctx.Done():
			}
			continue
		}
		if b.holding.Load() {
			if t.r == nil {
				b.hold(ctx, t.m)
			}
			continue
		}
		b.take(ctx, t)
	}
}

// take answers t now.
func (b *Bot) take(ctx context.Context, t *turn) {
	if t.ready != nil {
		select {
		case <-t.ready:
		case <-ctx.Done():
			return
		}
		t.work(ctx)
		if ctx.Err() == nil {
			b.unkeep(ctx, t.dmID)
		}
		return
	}
	if t.fresh {
		// Read now, the answers before it being stored, a reply to one of
		// them continues from it; recorded as handed to the chat core.
		if t.m != nil {
			t.r.prompt = b.promptOf(ctx, t.m)
		}
		if _, err := b.db.ExecContext(ctx, `UPDATE discord_replies SET prompt = ?, parent_id = ?, refs = '[]' WHERE id = ?`,
			t.r.prompt.Text, t.r.prompt.ReplyTo, t.r.row); err != nil {
			b.o.Log.Error().Err(err).Msg("discord: record a reply's start")
		}
	}
	b.stream(ctx, t.r, t.redo)
}

// waiting returns how many DMs wait for their turn; b.mu is held.
func (b *Bot) waiting() int { return len(b.turns) }

// isCommand tells a DM the chat core takes as a command: it goes at once,
// so that /stop stops the running answer instead of waiting behind it.
func isCommand(m *discordgo.Message) bool {
	return len(m.Attachments) == 0 && strings.HasPrefix(strings.TrimSpace(m.Content), "/")
}

// dispatch serves one of the owner's DMs: a command at once, anything
// else in its turn. A DM with files keeps its place while they download.
func (b *Bot) dispatch(ctx context.Context, m *discordgo.Message) {
	switch {
	case len(m.Attachments) > 0:
		// Its reply is recorded at its turn: till then the DM itself is
		// kept, so that a crash while it waits loses nothing.
		if err := b.keep(ctx, m); err != nil {
			b.o.Log.Error().Err(err).Str("dm", m.ID).Msg("discord: record a DM with files")
		}
		t := &turn{dmID: m.ID, m: m, fresh: true, ready: make(chan struct{})}
		b.push(t)
		go func() {
			t.work = b.prepareAttachments(ctx, m)
			close(t.ready)
		}()
	case isCommand(m):
		go b.answerDM(ctx, m, nil)
	default:
		b.queueDM(ctx, m)
	}
}

// queueDM records the reply to m and queues it.
func (b *Bot) queueDM(ctx context.Context, m *discordgo.Message) {
	r, err := recordReply(ctx, b, m.ChannelID, m.ID, b.quickPrompt(ctx, m), "null")
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: record a DM")
		return
	}
	b.mu.Lock()
	b.asked[m.ID], b.latest = r, r
	b.mu.Unlock()
	b.push(&turn{dmID: m.ID, r: r, m: m, fresh: true})
}

// quickPrompt is m's prompt as recorded on arrival, from the database
// only (the gateway's handler makes no REST call): what a restart answers
// if it comes before m's turn, when promptOf reads it again.
func (b *Bot) quickPrompt(ctx context.Context, m *discordgo.Message) Prompt {
	p := Prompt{Text: m.Content}
	if m.MessageReference != nil && m.MessageReference.MessageID != "" {
		if parent, err := b.storedAs(ctx, "", m.MessageReference.MessageID); err == nil {
			p.ReplyTo = parent
		}
	}
	return p
}

// dropWaiting takes the owner's deleted DM dmID out of the queue while
// the chat core has not seen it: its reply is finished without a message
// or a change to memory. It reports whether it did.
func (b *Bot) dropWaiting(ctx context.Context, dmID string) bool {
	b.mu.Lock()
	i := slices.IndexFunc(b.turns, func(t *turn) bool { return t.dmID == dmID && t.fresh })
	var t *turn
	if i >= 0 {
		t = b.turns[i]
		b.turns = slices.Delete(b.turns, i, i+1)
		if t.r != nil && b.asked[dmID] == t.r {
			delete(b.asked, dmID)
		}
		if t.r != nil && b.latest == t.r {
			b.latest = nil
		}
	}
	b.mu.Unlock()
	if t == nil {
		return false
	}
	b.o.Log.Info().Str("dm", dmID).Msg("discord: the owner deleted a DM before its turn; it is not answered")
	if t.r != nil {
		t.r.finish()
	} else {
		b.unkeep(ctx, dmID)
	}
	return true
}

// editWaiting makes the owner's edited DM m, still waiting and not seen
// by the chat core, be answered with its new text at its turn. It
// reports whether m was such a DM (an edit of a DM with files still
// downloading is not: it is answered as sent).
func (b *Bot) editWaiting(ctx context.Context, m *discordgo.Message) bool {
	b.mu.Lock()
	i := slices.IndexFunc(b.turns, func(t *turn) bool { return t.dmID == m.ID && t.fresh })
	var r *reply
	if i >= 0 {
		t := b.turns[i]
		if t.r == nil {
			b.mu.Unlock()
			return true
		}
		r = t.r
		t.m = m
	}
	b.mu.Unlock()
	if r == nil {
		return false
	}
	if _, err := b.db.ExecContext(ctx, `UPDATE discord_replies SET prompt = ? WHERE id = ?`, m.Content, r.row); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: record an edited DM")
	}
	return true
}
