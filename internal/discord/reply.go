package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
)

// typingEvery renews the typing indicator, which Discord shows for ten
// seconds after each call.
const typingEvery = 8 * time.Second

// reply is one streamed answer: the text so far, the messages that show it,
// and the cadence of their edits.
type reply struct {
	b       *Bot
	channel string
	ctx     context.Context
	row     int64  // in discord_replies
	dmID    string // the owner's DM it answers, "" for a ▶️ run or a command
	prompt  Prompt

	mu       sync.Mutex
	text     strings.Builder
	notes    []string // tool activity, notices, a restart: shown above the answer
	outputs  []string // what code run in the sandbox printed, capped
	footer   string
	finished chan struct{} // closed by finish
	started  bool          // text arrived: typing stops, the first message goes out
	refs     []Ref         // the messages, in order
	shown    []string      // what each message was last set to
	last     time.Time     // the last render
	timer    *time.Timer   // a render due at last+interval
	typing   chan struct{} // closed when typing should stop
	stopOnce sync.Once
}

// newReply starts the reply to prompt, the owner's DM dmID (or none),
// recorded so that a crash before its end is repaired on restart.
func newReply(ctx context.Context, b *Bot, channel, dmID string, prompt Prompt) (*reply, error) {
	return recordReply(ctx, b, channel, dmID, prompt, "[]")
}

// recordReply records a reply in discord_replies with refs: "[]" for one
// the chat core is handed now, "null" for a DM that waits for its turn
// (a restart answers it with Send, as new).
func recordReply(ctx context.Context, b *Bot, channel, dmID string, prompt Prompt, refs string) (*reply, error) {
	res, err := b.db.ExecContext(ctx, `INSERT INTO discord_replies (channel_id, prompt, dm_id, parent_id, refs, created) VALUES (?, ?, ?, ?, ?, ?)`,
		channel, prompt.Text, dmID, prompt.ReplyTo, refs, now())
	if err != nil {
		return nil, fmt.Errorf("discord reply: %w", err)
	}
	r := &reply{b: b, channel: channel, ctx: ctx, dmID: dmID, prompt: prompt, typing: make(chan struct{}), finished: make(chan struct{})}
	if r.row, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("discord reply: %w", err)
	}
	return r, nil
}

// resumedReply continues an interrupted reply in its messages; one that
// never began (it waited for its turn) is answered as new.
func resumedReply(ctx context.Context, b *Bot, p interrupted) *reply {
	r := &reply{b: b, channel: p.channel, ctx: ctx, row: p.id, dmID: p.dmID, prompt: p.prompt, typing: make(chan struct{}), finished: make(chan struct{}),
		refs: p.refs, shown: make([]string, len(p.refs))}
	if p.started {
		r.notes = []string{"↻ regenerated after a restart"}
	}
	for _, ref := range p.refs {
		b.track(ref, r)
	}
	if p.dmID != "" {
		b.mu.Lock()
		b.asked[p.dmID] = r
		b.mu.Unlock()
	}
	return r
}

// saveRefs records the reply's messages.
func (r *reply) saveRefs() {
	b, _ := json.Marshal(r.refs)
	if _, err := r.b.db.ExecContext(r.ctx, `UPDATE discord_replies SET refs = ? WHERE id = ?`, string(b), r.row); err != nil {
		r.b.o.Log.Error().Err(err).Msg("discord: record a reply's messages")
	}
}

// type_ shows "Mai is typing…" until the first text or the end; stream
// starts it, so a reply waiting for its turn does not type. A call that
// Discord's rate limit holds back (5 per 5 s in a channel) is dropped
// when the text comes first, so "typing" never shows under an answer
// already given.
func (r *reply) type_() {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	go func() {
		select {
		case <-r.typing:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(typingEvery)
	defer t.Stop()
	for {
		if err := r.b.s.ChannelTyping(r.channel, discordgo.WithContext(ctx)); err != nil && ctx.Err() == nil {
			r.b.o.Log.Debug().Err(err).Msg("discord: typing indicator")
		}
		select {
		case <-r.typing:
			return
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *reply) stopTyping() { r.stopOnce.Do(func() { close(r.typing) }) }

// emit takes one event of the turn.
func (r *reply) emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case EventText:
		r.text.WriteString(e.Text)
	case EventReply:
		r.text.WriteString(e.Text)
	case EventRestart:
		r.text.Reset()
		r.notes = append(r.notes, "↻ "+e.Text)
	case EventTool:
		r.notes = append(r.notes, "🔧 "+e.Text)
		if e.Output != "" {
			r.addOutput(e.Output)
		}
	case EventNotice:
		r.notes = append(r.notes, e.Text)
	case EventError:
		r.notes = append(r.notes, "⚠️ "+e.Text)
		r.started = true
	case EventDone:
		// The answer is whole: shown with its footer at the next edit,
		// while the chat core may still learn facts or fold old turns
		// before its Send returns.
		r.footer = r.b.footer(e.Stats)
	}
	if r.text.Len() > 0 {
		r.started = true
	}
	if !r.started {
		return
	}
	r.stopTyping()
	r.schedule()
}

// schedule renders now if the last render is an interval old, else once
// the interval has passed; so edits never come faster than the interval.
func (r *reply) schedule() {
	wait := r.b.o.EditInterval - time.Since(r.last)
	if len(r.refs) == 0 || wait <= 0 {
		r.render()
		return
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(wait, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.timer = nil
			r.render()
		})
	}
}

// finish makes the final edit: the whole answer and the footer.
func (r *reply) finish() {
	r.stopTyping()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	// Even the final edit keeps the cadence.
	if wait := r.b.o.EditInterval - time.Since(r.last); len(r.refs) > 0 && wait > 0 {
		r.mu.Unlock()
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
		}
		r.mu.Lock()
	}
	if r.text.Len() > 0 || len(r.notes) > 0 {
		r.render()
	}
	defer close(r.finished)
	if _, err := r.b.db.ExecContext(context.WithoutCancel(r.ctx), `UPDATE discord_replies SET done = 1 WHERE id = ?`, r.row); err != nil {
		r.b.o.Log.Error().Err(err).Msg("discord: record a finished reply")
	}
}

// content is what the reply shows now.
func (r *reply) content() string {
	var b strings.Builder
	for _, n := range r.notes {
		fmt.Fprintf(&b, "-# %s\n", oneLine(n))
	}
	for _, o := range r.outputs {
		fmt.Fprintf(&b, "```\n%s\n```\n", o)
	}
	// The chat core stores the answer without surrounding white space, and
	// Discord trims what it shows; the reply shows the same from the start.
	b.WriteString(strings.TrimSpace(r.text.String()))
	if r.footer != "" {
		b.WriteString("\n-# " + r.footer)
	}
	return strings.TrimSuffix(b.String(), "\n") // notes alone end with one
}

// render brings the messages up to date through the outbox: edits for the
// messages that changed, new messages for parts past 2000 characters.
func (r *reply) render() {
	r.last = time.Now()
	parts := Split(r.content(), MaxMessage)
	for i, p := range parts {
		if i < len(r.refs) {
			if r.shown[i] == p {
				continue
			}
			if err := r.b.out.Edit(r.ctx, r.refs[i], Message{Content: p}); err != nil {
				r.b.o.Log.Error().Err(err).Msg("discord: queue an edit")
				return
			}
			r.shown[i] = p
			continue
		}
		ref, err := r.b.out.Send(r.ctx, r.channel, Message{Content: p})
		if err != nil {
			r.b.o.Log.Error().Err(err).Msg("discord: queue a message")
			return
		}
		r.refs = append(r.refs, ref)
		r.shown = append(r.shown, p)
		r.b.track(ref, r)
		r.saveRefs()
	}
	for i := len(parts); i < len(r.refs); i++ { // the answer got shorter (a restart)
		if r.shown[i] != "…" {
			r.b.out.Edit(r.ctx, r.refs[i], Message{Content: "…"})
			r.shown[i] = "…"
		}
	}
}

// MaxShownOutput is how much of a program's output a reply shows; longer
// output is shown cut and comes whole as a file attachment.
const MaxShownOutput = 1500

// OutputFile names the attachment with a program's whole output.
const OutputFile = "output.txt"

// addOutput shows out in a code block, cut to MaxShownOutput characters;
// output longer than that is also sent whole, as a file.
func (r *reply) addOutput(out string) {
	// A fence inside the output would end the block early.
	shown := strings.ReplaceAll(strings.TrimRight(out, "\n"), "```", "`\u200b``")
	if rs := []rune(shown); len(rs) > MaxShownOutput {
		shown = string(rs[:MaxShownOutput]) + "\n…"
		note := fmt.Sprintf("-# the whole output, %d characters", len([]rune(out)))
		if _, err := r.b.out.Send(r.ctx, r.channel, Message{Content: note, Files: []File{{Name: OutputFile, Data: []byte(out)}}}); err != nil {
			r.b.o.Log.Error().Err(err).Msg("discord: queue a program's output")
		}
	}
	r.outputs = append(r.outputs, shown)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > 300 {
		s = string([]rune(s)[:299]) + "…"
	}
	return s
}

// footer formats the stats line, or "" when footers are off.
func (b *Bot) footer(st Stats) string {
	if !b.o.Footer || st.Model == "" {
		return ""
	}
	parts := []string{st.Model}
	if st.TokensPerSecond > 0 {
		parts = append(parts, fmt.Sprintf("%.1f tok/s", st.TokensPerSecond))
	}
	if st.ContextWindow > 0 {
		parts = append(parts, fmt.Sprintf("context %d/%d", st.ContextTokens, st.ContextWindow))
	}
	if st.KeptMessages > 0 {
		parts = append(parts, fmt.Sprintf("using the last %d messages", st.KeptMessages))
	}
	return strings.Join(parts, " · ")
}
