package discord

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"
)

// Refusal is what a user who is not the owner is told, at most once a day.
const Refusal = "I am a private assistant and answer only my owner."

// refuseEvery is how often one user may be told Refusal.
const refuseEvery = 24 * time.Hour

// Options configures a Bot.
type Options struct {
	// Owner is the Discord user id whose DMs and reactions count.
	Owner string
	// EditInterval is the least time between two edits of a reply.
	EditInterval time.Duration
	// RefuseOthers tells other users, once a day, that Mai is private;
	// false ignores them silently. Either way only their id is logged.
	RefuseOthers bool
	// Footer ends replies with model, tokens/s and context use.
	Footer bool
	Log    zerolog.Logger
}

// Bot is the Discord front end over one gateway session.
type Bot struct {
	s    *discordgo.Session
	db   *sql.DB
	chat Chat
	out  *Outbox
	o    Options

	approvals *approvalView
	memory    Memory

	connected atomic.Bool // the gateway session is up (READY or RESUMED, not yet dropped)
	holding   atomic.Bool // stopping: the owner's new DMs wait for the next start (Hold)

	mu sync.Mutex
	// The replies held in memory: those streaming and the last keepDone
	// finished (recent, in done, oldest first); older ones are looked up
	// in discord_replies (exchange).
	replies  map[Ref]*reply    // the messages of held replies, for 🛑 🔁 🗑
	asked    map[string]*reply // the owner's DMs (by message id) → their held replies
	done     []*reply          // the finished held replies, oldest first
	latest   *reply            // the reply to the owner's latest DM
	dm       string            // the DM channel with the owner, once known
	takeBack chan struct{}     // closed when the last edit, delete or 🗑 queued has been acted on
	busy     int               // answers being generated
	turns    []*turn           // the owner's DMs waiting for their turn, in order (queue.go)
	wake     chan struct{}     // tells answerTurns a turn was queued
	model    string            // the model of the last answer
}

// presence shows whether Mai is busy and the model it last used; delta
// counts an answer starting (+1) or ending (-1).
func (b *Bot) presence(delta int) {
	b.mu.Lock()
	b.busy += delta
	status := "idle"
	if b.busy > 0 {
		status = "answering…"
	}
	if n := b.waiting(); n > 0 {
		status += fmt.Sprintf(" · %d waiting", n)
	}
	if b.model != "" {
		status += " · " + b.model
	}
	b.mu.Unlock()
	if err := b.s.UpdateCustomStatus(status); err != nil && !errors.Is(err, discordgo.ErrWSNotFound) {
		b.o.Log.Debug().Err(err).Msg("discord: presence")
	}
}

// ChatOff is the answer to the owner's DMs while no chat core is set
// (SetChat): approvals still work, chat does not.
const ChatOff = "Chat is off on this Mai: no model backend is available."

// New returns a bot over session s (see NewSession), a migrated database
// and the chat core (nil until SetChat: then DMs get ChatOff).
func New(s *discordgo.Session, db *sql.DB, chat Chat, o Options) *Bot {
	if o.EditInterval <= 0 {
		o.EditInterval = 1200 * time.Millisecond
	}
	b := &Bot{s: s, db: db, chat: chat, o: o, replies: map[Ref]*reply{}, asked: map[string]*reply{}, wake: make(chan struct{}, 1)}
	b.out = NewOutbox(db, s, b.botID, o.Log)
	b.approvals = &approvalView{b: b}
	s.Identify.Intents = Intents
	// Handlers run in the gateway's order (they only queue work), so two
	// DMs or two reactions are seen in the order they were made.
	s.SyncEvents = true
	return b
}

// Connected reports whether the gateway session is up now: it has seen
// READY or RESUMED and no disconnect since. `mai status` shows it.
func (b *Bot) Connected() bool { return b.connected.Load() }

// Busy returns how many answers are being generated now; a shutdown
// waits for them, and for the outbox, before it ends Run.
func (b *Bot) Busy() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.busy
}

// CheckToken asks Discord who the bot is, so a refused token shows as one
// clear error before the gateway is tried.
func (b *Bot) CheckToken(ctx context.Context) error {
	if _, err := b.s.User("@me", discordgo.WithContext(ctx)); err != nil {
		var re *discordgo.RESTError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == 401 {
			return fmt.Errorf("Discord refused the bot token (401): put a valid DISCORD_BOT_TOKEN in .env: %w", err)
		}
		return fmt.Errorf("discord: %w", err)
	}
	return nil
}

// SetChat sets the chat core; call it before Run.
func (b *Bot) SetChat(c Chat) { b.chat = c }

// Outbox returns the bot's outbox.
func (b *Bot) Outbox() *Outbox { return b.out }

func (b *Bot) botID() string {
	if b.s.State != nil && b.s.State.User != nil {
		return b.s.State.User.ID
	}
	return ""
}

// Run connects to the gateway and serves until ctx ends. discordgo
// reconnects (and resumes) on its own after a drop; the outbox keeps what
// is written meanwhile.
func (b *Bot) Run(ctx context.Context) error {
	removers := []func(){
		b.s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { b.onMessage(ctx, m.Message) }),
		b.s.AddHandler(func(_ *discordgo.Session, r *discordgo.MessageReactionAdd) { b.onReaction(ctx, r.MessageReaction) }),
		b.s.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { b.onInteraction(ctx, i) }),
		b.s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageUpdate) { b.inOrder(func() { b.onEdit(ctx, m.Message) }) }),
		b.s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageDelete) {
			b.inOrder(func() { b.onDelete(ctx, m.Message) })
		}),
		b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Ready) { b.connected.Store(true) }),
		b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) { b.connected.Store(true) }),
		b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) { b.connected.Store(false) }),
	}
	defer b.connected.Store(false)
	defer func() {
		for _, rm := range removers {
			rm()
		}
	}()
	// What a crash interrupted is read, and queued in the order it came,
	// before the gateway delivers anything new; then the DMs held at the
	// last stop.
	interrupted, err := b.interruptedReplies(ctx)
	if err != nil {
		return err
	}
	for _, p := range interrupted {
		if p.started {
			b.o.Log.Info().Int64("reply", p.id).Msg("discord: finishing an answer a restart interrupted")
		} else {
			b.o.Log.Info().Int64("reply", p.id).Msg("discord: answering a DM that waited for its turn at the last stop")
		}
		b.push(&turn{dmID: p.dmID, r: resumedReply(ctx, b, p), fresh: !p.started, redo: p.started})
	}
	b.queueHeld(ctx)
	b.orderTurns()
	if err := b.s.Open(); err != nil {
		return fmt.Errorf("discord gateway: %w", err)
	}
	defer b.s.Close()
	done := make(chan struct{})
	go func() { b.out.Run(ctx); close(done) }()
	if err := b.registerCommands(ctx); err != nil {
		b.o.Log.Error().Err(err).Msg("discord: register slash commands")
	}
	go b.answerTurns(ctx)
	synced := make(chan struct{})
	go func() { b.approvals.syncLoop(ctx); close(synced) }()
	defer func() { <-synced }()
	<-ctx.Done()
	<-done
	return nil
}

// onMessage serves the owner's DMs and refuses everyone else's.
func (b *Bot) onMessage(ctx context.Context, m *discordgo.Message) {
	if m.Author == nil || m.Author.Bot || m.Author.ID == b.botID() || m.GuildID != "" {
		return
	}
	if m.Author.ID != b.o.Owner {
		b.o.Log.Info().Str("user_id", m.Author.ID).Msg("discord: a DM from someone who is not the owner; not served")
		if b.o.RefuseOthers {
			if err := b.refuse(ctx, m.Author.ID, m.ChannelID); err != nil {
				b.o.Log.Error().Err(err).Msg("discord: refusal")
			}
		}
		return
	}
	b.mu.Lock()
	b.dm = m.ChannelID
	b.mu.Unlock()
	if b.holding.Load() {
		b.hold(ctx, m)
		return
	}
	b.dispatch(ctx, m)
}

// answerDM answers one of the owner's DMs, with its images, now: a
// command, or a DM with files at its turn; a reply is answered from the
// point it replies to (promptOf).
func (b *Bot) answerDM(ctx context.Context, m *discordgo.Message, images []Image) {
	p := b.promptOf(ctx, m)
	p.Images = images
	r, err := newReply(ctx, b, m.ChannelID, m.ID, p)
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: start a reply")
		return
	}
	b.mu.Lock()
	b.asked[m.ID], b.latest = r, r
	b.mu.Unlock()
	b.stream(ctx, r, false)
}

// answer sends text to the chat core and streams its events into a reply.
func (b *Bot) answer(ctx context.Context, channel, text string) {
	r, err := newReply(ctx, b, channel, "", Prompt{Text: text})
	if err != nil {
		b.o.Log.Error().Err(err).Msg("discord: start a reply")
		return
	}
	b.stream(ctx, r, false)
}

// stream sends r's prompt to the chat core and its events into r, and
// returns once the core has stored the turn; r's final edit follows
// (finish). redo says r continues an answer a restart interrupted, whose
// prompt the core may already have stored.
func (b *Bot) stream(ctx context.Context, r *reply, redo bool) {
	go r.type_()
	b.presence(1)
	if b.chat == nil {
		r.emit(Event{Kind: EventReply, Text: ChatOff})
		b.finish(r)
		return
	}
	send := b.chat.Send
	if rd, ok := b.chat.(Redoer); ok && redo {
		send = rd.Redo
	}
	err := send(ctx, b.o.Owner, r.prompt, func(e Event) {
		if e.Kind == EventDone && e.Stats.Model != "" {
			b.mu.Lock()
			b.model = e.Stats.Model
			b.mu.Unlock()
		}
		if e.Kind == EventDone && e.Stats.MessageID != 0 {
			r.link(e.Stats)
		}
		r.emit(e)
	})
	if ctx.Err() != nil {
		b.presence(-1)
		return // shutting down: the reply stays unfinished, and is redone on restart
	}
	if err != nil {
		b.o.Log.Debug().Err(err).Msg("discord: the turn ended with an error")
	}
	b.finish(r)
}

// finish makes r's final edit and retires r, on its own goroutine: that
// edit keeps the edit cadence, so it may be up to EditInterval away, and
// the next DM's answer, whose turn is already stored, need not wait for
// it. r counts as an answer being given (Busy) until its final edit is in
// the outbox, so that a drain at shutdown waits for it.
func (b *Bot) finish(r *reply) {
	go func() {
		r.finish()
		b.retire(r)
		b.presence(-1)
	}()
}

// keepDone is how many finished replies stay held in memory.
const keepDone = 32

// retire holds the finished reply r among the recent ones and lets go of
// the oldest beyond keepDone, so that a long run does not keep every
// reply; a let-go reply is still found through discord_replies.
func (b *Bot) retire(r *reply) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = append(b.done, r)
	for len(b.done) > keepDone {
		old := b.done[0]
		b.done = b.done[1:]
		b.forgetHeld(old)
	}
}

// forgetHeld drops old from the maps where it is still the reply held;
// b.mu is held.
func (b *Bot) forgetHeld(old *reply) {
	for ref, h := range b.replies {
		if h == old {
			delete(b.replies, ref)
		}
	}
	if old.dmID != "" && b.asked[old.dmID] == old {
		delete(b.asked, old.dmID)
	}
}

// interrupted is an answer a crash or a shutdown cut short.
type interrupted struct {
	id            int64
	channel, dmID string
	prompt        Prompt
	refs          []Ref
	started       bool // the chat core was handed it (refs is not "null")
}

// interruptedReplies returns the answers to generate again, each in the
// messages it had already posted.
func (b *Bot) interruptedReplies(ctx context.Context) ([]interrupted, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT id, channel_id, dm_id, prompt, parent_id, refs FROM discord_replies WHERE done = 0 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("discord replies: %w", err)
	}
	defer rows.Close()
	var todo []interrupted
	for rows.Next() {
		var p interrupted
		var refs string
		if err := rows.Scan(&p.id, &p.channel, &p.dmID, &p.prompt.Text, &p.prompt.ReplyTo, &refs); err != nil {
			return nil, fmt.Errorf("discord replies: %w", err)
		}
		p.started = refs != "null"
		if err := json.Unmarshal([]byte(refs), &p.refs); err != nil {
			return nil, fmt.Errorf("discord replies: %w", err)
		}
		todo = append(todo, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("discord replies: %w", err)
	}
	return todo, nil
}

// refuse tells user, at most once a day, that Mai serves only its owner.
func (b *Bot) refuse(ctx context.Context, user, channel string) error {
	var at string
	err := b.db.QueryRowContext(ctx, `SELECT at FROM discord_refusals WHERE user_id = ?`, user).Scan(&at)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("refusals: %w", err)
	}
	if t, perr := time.Parse(time.RFC3339Nano, at); err == nil && perr == nil && time.Since(t) < refuseEvery {
		return nil
	}
	if _, err := b.db.ExecContext(ctx, `INSERT INTO discord_refusals (user_id, at) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET at = excluded.at`, user, now()); err != nil {
		return fmt.Errorf("refusals: %w", err)
	}
	_, err = b.out.Send(ctx, channel, Message{Content: Refusal})
	return err
}

// inOrder runs f, an edit, delete or 🗑 of the owner's, off the gateway's
// handler (it may wait for an answer, or answer again) but after the one
// queued before it, so that two edits of a DM, or an edit and a delete,
// act in the order they were made.
func (b *Bot) inOrder(f func()) {
	done := make(chan struct{})
	b.mu.Lock()
	prev := b.takeBack
	b.takeBack = done
	b.mu.Unlock()
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		f()
	}()
}

// track remembers a message of a streamed reply.
func (b *Bot) track(ref Ref, r *reply) {
	b.mu.Lock()
	b.replies[ref] = r
	b.mu.Unlock()
}

// Reactions on a streamed reply.
const (
	EmojiStop       = "🛑"
	EmojiRegenerate = "🔁"
	EmojiForget     = "🗑️"
)

// onReaction acts on reactions to the bot's messages: on an approval
// request it asks the approval service to decide (which refuses, and
// audits, anyone but the owner); on a reply the owner's 🛑 stops, 🔁
// regenerates and 🗑 forgets that reply's exchange. The bot's own reactions are ignored.
func (b *Bot) onReaction(ctx context.Context, r *discordgo.MessageReaction) {
	if r.UserID == b.botID() {
		return
	}
	ref, err := b.out.RefOf(ctx, r.ChannelID, r.MessageID)
	if err != nil || ref == 0 {
		return
	}
	if isApproval, err := b.approvals.react(ctx, ref, r); isApproval {
		if err != nil {
			b.o.Log.Info().Err(err).Str("user_id", r.UserID).Msg("discord: a reaction on an approval request decided nothing")
		}
		return
	}
	if r.UserID != b.o.Owner {
		b.o.Log.Info().Str("user_id", r.UserID).Msg("discord: a reaction from someone who is not the owner; ignored")
		return
	}
	b.mu.Lock()
	old := b.replies[ref]
	inPlace := old != nil && old == b.latest // redone or forgotten in its messages
	b.mu.Unlock()
	if strings.TrimSuffix(r.Emoji.Name, "\ufe0f") == strings.TrimSuffix(EmojiRun, "\ufe0f") {
		// A verdict on a code file: one run per ▶️ (send the file again
		// to rerun), kept in the database across restarts.
		run, err := b.takeOffer(ctx, ref)
		if err != nil {
			b.say(ctx, r.ChannelID, "⚠️ "+err.Error())
			return
		}
		if run != "" {
			go b.answer(ctx, r.ChannelID, run)
			return
		}
	}
	if e := r.Emoji.Name; e == EmojiForget || e == "🗑" {
		// Any reply's exchange, held in memory or not (an older one, one
		// from before a restart).
		b.inOrder(func() {
			if old, stored := b.exchangeByRef(ctx, ref); old != nil {
				b.forget(ctx, old, stored, ForgottenByReaction)
			}
		})
		return
	}
	if old == nil {
		return
	}
	switch r.Emoji.Name {
	case EmojiStop:
		b.chat.Stop(b.o.Owner)
	case EmojiRegenerate:
		if inPlace { // the answer to the latest DM is redone in its own messages
			go b.redo(ctx, old, Prompt{Text: "/regenerate"}, "")
			return
		}
		go b.answer(ctx, r.ChannelID, "/regenerate")
	}
}
