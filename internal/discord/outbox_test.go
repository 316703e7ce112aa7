package discord

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/maicompanion/mai/internal/discord/discordtest"
)

func TestOutboxFlushesInOrderAfterOutage(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s := openSession(t, fake)
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	fake.SetDown(true)
	o := runOutbox(t, db, s)
	ctx := context.Background()
	var want []string
	for i := 1; i <= 6; i++ {
		want = append(want, fmt.Sprintf("message %d", i))
		if _, err := o.Send(ctx, ch, Message{Content: want[i-1]}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // the outbox tries and waits meanwhile
	if n, _ := o.Pending(ctx); n != 6 {
		t.Fatalf("%d rows pending during the outage, want 6", n)
	}
	fake.SetDown(false)
	flush(t, o, 30*time.Second)
	if got := contents(fake.Messages(ch)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("channel holds %q, want %q", got, want)
	}
	if fake.RateLimited() != 0 {
		t.Fatalf("%d requests were answered 429", fake.RateLimited())
	}
}

func TestOutboxDoesNotResendWhatReachedDiscord(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s := openSession(t, fake)
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	ctx := context.Background()
	// A previous process queued two messages, sent the first and recorded
	// it, then sent the second and died before recording the answer.
	o := NewOutbox(db.DB, s, func() string { return s.State.User.ID }, testLog(t))
	first, _ := o.Send(ctx, ch, Message{Content: "same words"})
	second, _ := o.Send(ctx, ch, Message{Content: "same words"})
	m1, err := s.ChannelMessageSend(ch, "same words")
	if err != nil {
		t.Fatal(err)
	}
	db.ExecContext(ctx, `UPDATE discord_outbox SET state = 'sent', message_id = ?, attempts = 1 WHERE id = ?`, m1.ID, first)
	m2, err := s.ChannelMessageSend(ch, "same words")
	if err != nil {
		t.Fatal(err)
	}
	db.ExecContext(ctx, `UPDATE discord_outbox SET attempts = 1 WHERE id = ?`, second)
	third, _ := o.Send(ctx, ch, Message{Content: "same words"}) // never tried: must go out
	o = runOutbox(t, db, s)
	flush(t, o, 10*time.Second)
	msgs := fake.Messages(ch)
	if len(msgs) != 3 {
		t.Fatalf("channel holds %d messages, want 3 (no duplicate, none lost): %q", len(msgs), contents(msgs))
	}
	if id, _ := o.MessageID(ctx, second); id != m2.ID {
		t.Fatalf("second row adopted %q, want the message already in the channel %q", id, m2.ID)
	}
	if id, _ := o.MessageID(ctx, third); id != msgs[2].ID {
		t.Fatalf("third row sent as %q, want %q", id, msgs[2].ID)
	}
}

func TestOutboxCoalescesEditsAndReacts(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s := openSession(t, fake)
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	ctx := context.Background()
	fake.SetDown(true)
	o := runOutbox(t, db, s)
	ref, _ := o.Send(ctx, ch, Message{Content: "draft"})
	for i := 1; i <= 10; i++ {
		if err := o.Edit(ctx, ref, Message{Content: fmt.Sprintf("draft %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	o.React(ctx, ch, ref, "", "👍")
	fake.SetDown(false)
	flush(t, o, 30*time.Second)
	msgs := fake.Messages(ch)
	if len(msgs) != 1 || msgs[0].Content != "draft 10" || len(msgs[0].Reactions) != 1 {
		t.Fatalf("channel holds %+v, want one message \"draft 10\" with a reaction", msgs)
	}
	if n := countRoute(fake.Calls(), "PATCH /channels/{id}/messages/{m}"); n > 2 {
		t.Fatalf("%d edits sent for 10 queued during the outage, want at most 2", n)
	}
}

func TestOutboxHonours429(t *testing.T) {
	fake := newFake(t, discordtest.Options{Limits: map[string]discordtest.Limit{
		"PATCH /channels/{id}/messages/{m}": {Requests: 1, Window: 700 * time.Millisecond},
	}})
	s := openSession(t, fake)
	other := openSession(t, fake) // another client spends the bucket unseen
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	ctx := context.Background()
	o := runOutbox(t, db, s)
	ref, _ := o.Send(ctx, ch, Message{Content: "a"})
	flush(t, o, 10*time.Second)
	id, _ := o.MessageID(ctx, ref)
	if _, err := other.ChannelMessageEdit(ch, id, "b"); err != nil {
		t.Fatal(err)
	}
	o.Edit(ctx, ref, Message{Content: "c"})
	flush(t, o, 10*time.Second)
	if got := fake.Messages(ch)[0].Content; got != "c" {
		t.Fatalf("message reads %q after the 429, want c", got)
	}
	if fake.RateLimited() != 1 {
		t.Fatalf("%d 429s, want exactly the one provoked", fake.RateLimited())
	}
}

// Reactions in a row (an approval's 👍 and 👎) keep Discord's pace of one
// per 250 ms in a channel, which discordgo's own spacing for reactions
// (200 ms) does not: none is answered 429.
func TestOutboxReactionsKeepDiscordsPace(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s := openSession(t, fake)
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	ctx := context.Background()
	o := runOutbox(t, db, s)
	emojis := []string{"👍", "👎", "▶️", "🗑️"}
	for i := 0; i < 2; i++ {
		ref, _ := o.Send(ctx, ch, Message{Content: fmt.Sprintf("approve %d?", i)})
		for _, e := range emojis {
			if err := o.React(ctx, ch, ref, "", e); err != nil {
				t.Fatal(err)
			}
		}
	}
	flush(t, o, 30*time.Second)
	for _, m := range fake.Messages(ch) {
		if len(m.Reactions) != len(emojis) {
			t.Fatalf("message %q has %d reactions, want %d", m.Content, len(m.Reactions), len(emojis))
		}
	}
	if n := fake.RateLimited(); n != 0 {
		t.Fatalf("%d reactions were answered 429", n)
	}
}

// slowAnswer is an API whose sends reach Discord at once but whose answers
// come back only when released: the window in which the owner may already
// react to the new message.
type slowAnswer struct {
	API
	posted  chan string // the id of each message Discord created
	release chan struct{}
}

func (a slowAnswer) ChannelMessageSendComplex(channelID string, data *discordgo.MessageSend, options ...discordgo.RequestOption) (*discordgo.Message, error) {
	m, err := a.API.ChannelMessageSendComplex(channelID, data, options...)
	if err == nil {
		a.posted <- m.ID
		<-a.release
	}
	return m, err
}

// A reaction may name a message before the outbox has recorded Discord's
// answer to its send; RefOf waits for the send in flight instead of
// saying the message is not Mai's.
func TestRefOfWaitsForTheSendInFlight(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	s := openSession(t, fake)
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	api := slowAnswer{API: s, posted: make(chan string, 1), release: make(chan struct{})}
	o := NewOutbox(db.DB, api, func() string { return s.State.User.ID }, testLog(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	sent, err := o.Send(ctx, ch, Message{Content: "an answer"})
	if err != nil {
		t.Fatal(err)
	}
	id := <-api.posted
	if ref, err := o.RefOf(ctx, "", id); err != nil || ref != 0 {
		t.Fatalf("without a channel RefOf does not wait: got %d, %v; want 0", ref, err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(api.release)
	}()
	ref, err := o.RefOf(ctx, ch, id)
	if err != nil || ref != sent {
		t.Fatalf("RefOf = %d, %v during the send; want the send's ref %d", ref, err, sent)
	}
	// A message that is not Mai's is answered 0 once nothing is in flight.
	start := time.Now()
	if ref, err := o.RefOf(ctx, ch, "300000000000000003"); err != nil || ref != 0 {
		t.Fatalf("RefOf of a stranger's message = %d, %v; want 0", ref, err)
	}
	if waited := time.Since(start); waited >= RefWait {
		t.Fatalf("RefOf waited %s with nothing in flight", waited)
	}
}
