package discord

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"
)

// API is the part of *discordgo.Session the outbox sends with.
type API interface {
	ChannelMessageSendComplex(channelID string, data *discordgo.MessageSend, options ...discordgo.RequestOption) (*discordgo.Message, error)
	ChannelMessageEditComplex(m *discordgo.MessageEdit, options ...discordgo.RequestOption) (*discordgo.Message, error)
	MessageReactionAdd(channelID, messageID, emojiID string, options ...discordgo.RequestOption) error
	ChannelMessages(channelID string, limit int, beforeID, afterID, aroundID string, options ...discordgo.RequestOption) ([]*discordgo.Message, error)
}

// Ref names a message sent through the outbox before Discord has given it
// an id: the row of its send.
type Ref int64

// File is an attachment of a message.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// Message is what the outbox sends or edits a message to.
type Message struct {
	Content string
	Embeds  []*discordgo.MessageEmbed
	Files   []File // sends only
}

// Outbox persists every outgoing message, edit and reaction, and sends
// them in order. A try whose outcome is unknown (a dropped connection, a
// crash) is checked against the channel's recent history before the
// message is sent again, so that nothing appears twice; rate limits are
// left to discordgo, which reads the X-RateLimit-* headers per bucket and
// honours a 429's retry_after.
type Outbox struct {
	db    *sql.DB
	api   API
	botID func() string
	log   zerolog.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a row is done
	wake    chan struct{}
}

// NewOutbox returns an outbox over a migrated database; botID returns the
// bot's user id (known once the gateway is ready).
func NewOutbox(db *sql.DB, api API, botID func() string, log zerolog.Logger) *Outbox {
	return &Outbox{db: db, api: api, botID: botID, log: log, changed: make(chan struct{}), wake: make(chan struct{}, 1)}
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Send queues a new message in channelID.
func (o *Outbox) Send(ctx context.Context, channelID string, m Message) (Ref, error) {
	embeds, files, err := encode(m)
	if err != nil {
		return 0, err
	}
	res, err := o.db.ExecContext(ctx, `INSERT INTO discord_outbox (channel_id, op, content, embeds, files, created) VALUES (?, 'send', ?, ?, ?, ?)`,
		channelID, m.Content, embeds, files, now())
	if err != nil {
		return 0, fmt.Errorf("outbox send: %w", err)
	}
	id, err := res.LastInsertId()
	o.poke()
	return Ref(id), err
}

// Edit queues an edit of a message sent through the outbox; an edit still
// waiting for the same message is dropped, since this one replaces it.
func (o *Outbox) Edit(ctx context.Context, ref Ref, m Message) error {
	embeds, _, err := encode(Message{Embeds: m.Embeds})
	if err != nil {
		return err
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox edit: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE discord_outbox SET state = 'superseded' WHERE op = 'edit' AND ref = ? AND state = 'pending' AND attempts = 0`, ref); err != nil {
		return fmt.Errorf("outbox edit: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO discord_outbox (channel_id, op, ref, content, embeds, created)
		SELECT channel_id, 'edit', id, ?, ?, ? FROM discord_outbox WHERE id = ? AND op = 'send'`, m.Content, embeds, now(), ref); err != nil {
		return fmt.Errorf("outbox edit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox edit: %w", err)
	}
	o.poke()
	return nil
}

// React queues the bot's reaction emoji on a message sent through the
// outbox (ref > 0) or on another message (messageID).
func (o *Outbox) React(ctx context.Context, channelID string, ref Ref, messageID, emoji string) error {
	var refArg any
	if ref > 0 {
		refArg = ref
	}
	_, err := o.db.ExecContext(ctx, `INSERT INTO discord_outbox (channel_id, op, ref, target_id, emoji, created) VALUES (?, 'react', ?, ?, ?, ?)`,
		channelID, refArg, messageID, emoji, now())
	if err != nil {
		return fmt.Errorf("outbox react: %w", err)
	}
	o.poke()
	return nil
}

// MessageID returns the Discord id of a sent message, or "" while it waits.
func (o *Outbox) MessageID(ctx context.Context, ref Ref) (string, error) {
	var id string
	err := o.db.QueryRowContext(ctx, `SELECT message_id FROM discord_outbox WHERE id = ? AND op = 'send'`, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("outbox: no message %d", ref)
	}
	return id, err
}

// RefOf returns the outbox's ref of a sent message id in channelID, or 0.
// A message Discord has just created may be reacted to before its send's
// answer is recorded: while a send in channelID is in flight, RefOf waits
// for it (up to RefWait) before it answers 0.
func (o *Outbox) RefOf(ctx context.Context, channelID, messageID string) (Ref, error) {
	deadline := time.Now().Add(RefWait)
	for {
		ch := o.changes()
		ref, err := o.refOf(ctx, messageID)
		if ref != 0 || err != nil || channelID == "" {
			return ref, err
		}
		var inFlight bool
		if err := o.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM discord_outbox
			WHERE op = 'send' AND channel_id = ? AND state = 'pending' AND attempts > 0)`, channelID).Scan(&inFlight); err != nil {
			return 0, fmt.Errorf("outbox: %w", err)
		}
		left := time.Until(deadline)
		if !inFlight || left <= 0 {
			return 0, nil
		}
		select {
		case <-ch:
		case <-time.After(min(left, 250*time.Millisecond)):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// RefWait bounds how long RefOf waits for a send in flight.
const RefWait = 3 * time.Second

// refOf is RefOf without the wait.
func (o *Outbox) refOf(ctx context.Context, messageID string) (Ref, error) {
	var ref Ref
	err := o.db.QueryRowContext(ctx, `SELECT id FROM discord_outbox WHERE op = 'send' AND message_id = ?`, messageID).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ref, err
}

// Pending returns how many rows wait to be sent.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	var n int
	err := o.db.QueryRowContext(ctx, `SELECT count(*) FROM discord_outbox WHERE state = 'pending'`).Scan(&n)
	return n, err
}

// Flush waits until nothing is pending.
func (o *Outbox) Flush(ctx context.Context) error {
	for {
		ch := o.changes()
		n, err := o.Pending(ctx)
		if err != nil || n == 0 {
			return err
		}
		select {
		case <-ch:
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// changes returns a channel closed when the next row is done; take it
// before looking at the rows, so that a row done meanwhile is not missed.
func (o *Outbox) changes() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *Outbox) done() {
	o.mu.Lock()
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

func encode(m Message) (embeds, files string, err error) {
	if len(m.Embeds) > 0 {
		b, err := json.Marshal(m.Embeds)
		if err != nil {
			return "", "", fmt.Errorf("outbox: embeds: %w", err)
		}
		embeds = string(b)
	}
	if len(m.Files) > 0 {
		b, err := json.Marshal(m.Files)
		if err != nil {
			return "", "", fmt.Errorf("outbox: files: %w", err)
		}
		files = string(b)
	}
	return embeds, files, nil
}

// row is one pending outbox row with what it refers to.
type row struct {
	id                         int64
	channel, op, target        string
	content, embeds, files     string
	emoji                      string
	attempts                   int
	refMessageID, refSendState string
	hasRef                     bool
}

// Run sends pending rows in order until ctx ends. A row that fails for a
// passing reason (network, 5xx) is tried again, with backoff, before
// anything after it; one Discord refuses (4xx) is marked failed and logged.
func (o *Outbox) Run(ctx context.Context) {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		r, ok, err := o.next(ctx)
		if err == nil && ok {
			err = o.deliver(ctx, r)
		}
		switch {
		case err == nil && ok:
			backoff = 250 * time.Millisecond
			o.done()
			continue
		case err == nil:
			o.done()
			select {
			case <-o.wake:
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			}
			continue
		case permanent(err):
			o.log.Warn().Err(err).Int64("row", r.id).Str("op", r.op).Msg("discord refused an outbox row; skipping it")
			o.mark(ctx, r.id, "failed", "", err.Error())
			o.done()
			continue
		}
		o.log.Debug().Err(err).Dur("retry_in", backoff).Msg("discord unreachable; the outbox waits")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (o *Outbox) next(ctx context.Context) (row, bool, error) {
	var r row
	var refID sql.NullInt64
	err := o.db.QueryRowContext(ctx, `SELECT o.id, o.channel_id, o.op, o.target_id, o.content, o.embeds, o.files, o.emoji, o.attempts,
		o.ref, coalesce(s.message_id, ''), coalesce(s.state, '')
		FROM discord_outbox o LEFT JOIN discord_outbox s ON s.id = o.ref
		WHERE o.state = 'pending' ORDER BY o.id LIMIT 1`).Scan(
		&r.id, &r.channel, &r.op, &r.target, &r.content, &r.embeds, &r.files, &r.emoji, &r.attempts, &refID, &r.refMessageID, &r.refSendState)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("outbox: %w", err)
	}
	r.hasRef = refID.Valid
	return r, true, nil
}

func (o *Outbox) mark(ctx context.Context, id int64, state, messageID, errText string) error {
	_, err := o.db.ExecContext(ctx, `UPDATE discord_outbox SET state = ?, message_id = ?, error = ?, sent = ? WHERE id = ?`,
		state, messageID, errText, now(), id)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// deliver sends one row. The attempt is recorded before the call, so that
// after a crash the row is known to have perhaps gone out already.
func (o *Outbox) deliver(ctx context.Context, r row) error {
	if r.hasRef && r.refMessageID == "" {
		// The message this row edits or reacts to never went out.
		return o.mark(ctx, r.id, "failed", "", "its message was not sent ("+r.refSendState+")")
	}
	target := r.target
	if r.hasRef {
		target = r.refMessageID
	}
	if _, err := o.db.ExecContext(ctx, `UPDATE discord_outbox SET attempts = attempts + 1 WHERE id = ?`, r.id); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	opt := discordgo.WithContext(ctx)
	switch r.op {
	case "send":
		return o.send(ctx, r, opt)
	case "edit":
		m := discordgo.NewMessageEdit(r.channel, target).SetContent(r.content)
		if r.embeds != "" {
			var embeds []*discordgo.MessageEmbed
			if err := json.Unmarshal([]byte(r.embeds), &embeds); err != nil {
				return o.mark(ctx, r.id, "failed", "", err.Error())
			}
			m.SetEmbeds(embeds)
		}
		if _, err := o.api.ChannelMessageEditComplex(m, opt); err != nil {
			return err
		}
	case "react":
		if err := o.react(r.channel, target, r.emoji, opt); err != nil {
			return err
		}
	}
	return o.mark(ctx, r.id, "sent", "", "")
}

// bucketRequester is the part of *discordgo.Session that sends a request
// under a rate-limit bucket of the caller's choosing.
type bucketRequester interface {
	RequestWithBucketID(method, urlStr string, data interface{}, bucketID string, options ...discordgo.RequestOption) ([]byte, error)
}

// react adds the bot's reaction. discordgo's MessageReactionAdd spaces the
// reactions in a channel by a fixed 200 ms and ignores the rate-limit
// headers, but Discord allows one per 250 ms, so the second of an
// approval's 👍 and 👎 was answered 429 every time. Under a bucket id of
// its own discordgo follows the headers Discord sends.
func (o *Outbox) react(channelID, messageID, emoji string, opt discordgo.RequestOption) error {
	rq, ok := o.api.(bucketRequester)
	if !ok {
		return o.api.MessageReactionAdd(channelID, messageID, emoji, opt)
	}
	// As discordgo does: an emoji such as #️⃣ needs its # escaped.
	emoji = strings.ReplaceAll(emoji, "#", "%23")
	bucket := discordgo.EndpointMessageReaction(channelID, "", "", "@me")
	_, err := rq.RequestWithBucketID("PUT", discordgo.EndpointMessageReaction(channelID, messageID, emoji, "@me"), nil, bucket, opt)
	return err
}

func (o *Outbox) send(ctx context.Context, r row, opt discordgo.RequestOption) error {
	if r.attempts > 0 {
		// An earlier try may have reached Discord: look before sending again.
		if id, err := o.alreadySent(ctx, r); err != nil {
			return err
		} else if id != "" {
			o.log.Info().Int64("row", r.id).Str("message", id).Msg("outbox: message found in the channel; not sending it again")
			return o.mark(ctx, r.id, "sent", id, "")
		}
	}
	ms := &discordgo.MessageSend{Content: r.content}
	if r.embeds != "" {
		if err := json.Unmarshal([]byte(r.embeds), &ms.Embeds); err != nil {
			return o.mark(ctx, r.id, "failed", "", err.Error())
		}
	}
	if r.files != "" {
		var files []File
		if err := json.Unmarshal([]byte(r.files), &files); err != nil {
			return o.mark(ctx, r.id, "failed", "", err.Error())
		}
		for _, f := range files {
			ms.Files = append(ms.Files, &discordgo.File{Name: f.Name, ContentType: "text/plain; charset=utf-8", Reader: bytes.NewReader(f.Data)})
		}
	}
	m, err := o.api.ChannelMessageSendComplex(r.channel, ms, opt)
	if err != nil {
		return err
	}
	return o.mark(ctx, r.id, "sent", m.ID, "")
}

// alreadySent looks for the row's message among the bot's messages in the
// channel after the last one the outbox knows it sent, and returns its id.
func (o *Outbox) alreadySent(ctx context.Context, r row) (string, error) {
	var after string
	err := o.db.QueryRowContext(ctx, `SELECT message_id FROM discord_outbox WHERE channel_id = ? AND op = 'send' AND message_id != '' AND id < ?
		ORDER BY id DESC LIMIT 1`, r.channel, r.id).Scan(&after)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("outbox: %w", err)
	}
	var msgs []*discordgo.Message
	if after != "" {
		msgs, err = o.api.ChannelMessages(r.channel, 100, "", after, "", discordgo.WithContext(ctx))
	} else {
		msgs, err = o.api.ChannelMessages(r.channel, 50, "", "", "", discordgo.WithContext(ctx))
	}
	if err != nil {
		return "", err
	}
	bot := o.botID()
	for _, m := range msgs {
		if m.Author == nil || m.Author.ID != bot || m.Content != r.content {
			continue
		}
		if ref, err := o.refOf(ctx, m.ID); err != nil {
			return "", err
		} else if ref == 0 {
			return m.ID, nil
		}
	}
	return "", nil
}

// permanent reports whether Discord refused the request for good (a 4xx
// other than 429), as opposed to a network failure or a server error.
func permanent(err error) bool {
	var rest *discordgo.RESTError
	if errors.As(err, &rest) && rest.Response != nil {
		c := rest.Response.StatusCode
		return c >= 400 && c < 500 && c != http.StatusTooManyRequests
	}
	return false
}
