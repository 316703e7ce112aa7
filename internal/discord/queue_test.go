package discord

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/store"
)

// turnChat answers "re: " and the text. The answer to block says its
// first words, then waits for release (or a /stop, or the end); it records
// the order of the Send and Redo calls and how many answers ran at once.
type turnChat struct {
	block   string
	release chan struct{}
	model   string // named in each answer's stats, for a footer

	mu         sync.Mutex
	calls      []string // the texts, "redo:" before a Redo's, in call order
	running    int
	maxRunning int
	cancel     context.CancelFunc // of the answer running
}

func newTurnChat(block string) *turnChat {
	return &turnChat{block: block, release: make(chan struct{})}
}

func (c *turnChat) Send(ctx context.Context, _ string, p Prompt, emit func(Event)) error {
	return c.answer(ctx, p.Text, p.Text, emit)
}

func (c *turnChat) Redo(ctx context.Context, _ string, p Prompt, emit func(Event)) error {
	return c.answer(ctx, "redo:"+p.Text, p.Text, emit)
}

func (c *turnChat) answer(ctx context.Context, call, text string, emit func(Event)) error {
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
	if text == "/stop" {
		// Said before the running answer stops: the next DM's answer
		// may begin as soon as it has.
		emit(Event{Kind: EventReply, Text: "stopped"})
		c.Stop(ownerID)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	c.running++
	c.maxRunning = max(c.maxRunning, c.running)
	c.cancel = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
	}()
	emit(Event{Kind: EventText, Text: "re: " + text})
	if text == c.block {
		select {
		case <-c.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	emit(Event{Kind: EventDone, Stats: Stats{Model: c.model}})
	return nil
}

func (c *turnChat) Stop(string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	return c.cancel != nil
}

func (c *turnChat) seen() (calls []string, maxRunning int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...), c.maxRunning
}

// runBot runs a bot against fake until stop (or the test's end).
func runBot(t *testing.T, fake *discordtest.Server, db *store.DB, chat Chat) (b *Bot, stop func()) {
	t.Helper()
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	b = New(s, db.DB, chat, Options{Owner: ownerID, Log: testLog(t), EditInterval: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	waitFor(t, "the bot to connect", fake.Connected)
	return b, stop
}

// busyBot runs a bot whose chat core has begun to answer "first" and
// holds that answer until its release is closed.
func busyBot(t *testing.T) (fake *discordtest.Server, db *store.DB, chat *turnChat, b *Bot, stop func(), ch string) {
	t.Helper()
	fake = newFake(t, discordtest.Options{})
	db = openDB(t, t.TempDir())
	chat = newTurnChat("first")
	b, stop = runBot(t, fake, db, chat)
	ch = fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "first")
	waitFor(t, "the first answer to begin", func() bool { return len(fake.BotMessages(ch)) == 1 })
	return fake, db, chat, b, stop, ch
}

// settle gives stray work up to a second to show (cond true), for checks
// that something did not happen; it never fails.
func settle(cond func() bool) {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && !cond(); time.Sleep(20 * time.Millisecond) {
	}
}

func countRows(db *store.DB, where string) int {
	var n int
	db.QueryRow(`SELECT count(*) FROM discord_replies WHERE ` + where).Scan(&n)
	return n
}

func typings(fake *discordtest.Server) int {
	return countRoute(fake.Calls(), "POST /channels/{id}/typing")
}

// DMs sent back to back while an answer runs are answered one after the
// other, in the order sent, and a waiting one types only at its turn.
func TestDMsAnsweredInOrder(t *testing.T) {
	fake, db, chat, b, _, ch := busyBot(t)
	later := []string{"second", "third", "fourth", "fifth", "sixth", "seventh"}
	for _, text := range later {
		fake.SendDM(ownerID, text)
	}
	waitFor(t, "every DM recorded", func() bool { return countRows(db, "1") == 1+len(later) })
	// A waiting DM neither reaches the chat core nor types: the only
	// typing so far is the first answer's, which stopped at its first words
	// (none, when those came before its typing call went).
	settle(func() bool {
		calls, _ := chat.seen()
		return len(calls) > 1 || typings(fake) > 1
	})
	if calls, _ := chat.seen(); len(calls) != 1 || typings(fake) > 1 {
		t.Fatalf("while the first answer runs: chat core got %q, %d typing calls; want only the first, at most 1 typing call", calls, typings(fake))
	}
	close(chat.release)
	want := append([]string{"first"}, later...)
	waitFor(t, "every answer", func() bool { return countRows(db, "done = 1") == len(want) })
	calls, most := chat.seen()
	if strings.Join(calls, "|") != strings.Join(want, "|") || most != 1 {
		t.Fatalf("chat core got %q, %d at once; want %q one at a time", calls, most, want)
	}
	flush(t, b.Outbox(), 10*time.Second)
	var shown []string
	for _, text := range want {
		shown = append(shown, "re: "+text)
	}
	if got := contents(fake.BotMessages(ch)); strings.Join(got, "|") != strings.Join(shown, "|") {
		t.Fatalf("Discord shows %q, want %q", got, shown)
	}
	// Each answer typed at most once, when it began, until its first words
	// (each began to answer at once). Discord allows 5 typing calls per 5 s
	// in a channel: a call its rate limit held back past the answer's first
	// words is dropped (TestTypingHeldBackIsDropped), so give the bucket
	// time to reset, then count.
	settle(func() bool { return typings(fake) > len(want) })
	time.Sleep(typingWindow)
	if n := typings(fake); n > len(want) {
		t.Fatalf("%d typing calls for %d answers that each typed until their first words, want at most %d", n, len(want), len(want))
	}
}

// typingWindow is a little over the fake's typing bucket (5 calls per 5 s).
const typingWindow = 5500 * time.Millisecond

// A typing call that Discord's rate limit holds back is dropped once the
// answer's first words are out: sent after them, it showed "Mai is
// typing…" under an answer already given.
func TestTypingHeldBackIsDropped(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	b := startBot(t, fake, db, newTurnChat(""), Options{EditInterval: 100 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	for range 5 { // the channel's whole typing allowance
		if err := b.s.ChannelTyping(ch); err != nil {
			t.Fatal(err)
		}
	}
	fake.SendDM(ownerID, "hello")
	waitFor(t, "the answer", func() bool { return countRows(db, "done = 1") == 1 })
	flush(t, b.Outbox(), 10*time.Second)
	if got := contents(fake.BotMessages(ch)); len(got) != 1 || got[0] != "re: hello" {
		t.Fatalf("Discord shows %q, want the answer", got)
	}
	time.Sleep(typingWindow) // the bucket resets: a held call would go now
	if n := typings(fake); n != 5 {
		t.Fatalf("%d typing calls, want only the test's 5: the answer's own call, held back by the rate limit past its first words, was still sent", n)
	}
}

// A /stop sent while DMs wait stops the running answer at once; the
// waiting ones are answered after it, in order.
func TestStopWhileDMsWait(t *testing.T) {
	fake, db, chat, b, _, ch := busyBot(t) // never released: only the /stop ends it
	fake.SendDM(ownerID, "second")
	fake.SendDM(ownerID, "third")
	fake.SendDM(ownerID, "/stop")
	waitFor(t, "every answer", func() bool { return countRows(db, "done = 1") == 4 })
	want := "first|/stop|second|third"
	if calls, _ := chat.seen(); strings.Join(calls, "|") != want {
		t.Fatalf("chat core got %q, want %q", calls, want)
	}
	flush(t, b.Outbox(), 10*time.Second)
	got := contents(fake.BotMessages(ch))
	if strings.Join(got, "|") != "re: first|stopped|re: second|re: third" {
		t.Fatalf("Discord shows %q", got)
	}
}

// DMs that waited for their turn when the bot stopped are answered at the
// next start one after the other, in the order sent, as new messages;
// the interrupted answer is redone first, in its own message.
func TestRestartAnswersWaitingDMsInOrder(t *testing.T) {
	fake, db, _, b, stop, ch := busyBot(t)
	flush(t, b.Outbox(), 10*time.Second)
	fake.SendDM(ownerID, "second")
	fake.SendDM(ownerID, "third")
	waitFor(t, "every DM recorded", func() bool { return countRows(db, "1") == 3 })
	stop()
	if n := countRows(db, "done = 0 AND refs = 'null'"); n != 2 {
		t.Fatalf("%d replies recorded as waiting at the stop, want 2", n)
	}
	waitFor(t, "the gateway to see the bot go", func() bool { return !fake.Connected() })

	chat2 := newTurnChat("")
	b2, _ := runBot(t, fake, db, chat2)
	waitFor(t, "every answer", func() bool { return countRows(db, "done = 1") == 3 })
	calls, most := chat2.seen()
	if strings.Join(calls, "|") != "redo:first|second|third" || most != 1 {
		t.Fatalf("after the restart the chat core got %q, %d at once; want the first redone, then second and third, one at a time", calls, most)
	}
	flush(t, b2.Outbox(), 10*time.Second)
	got := contents(fake.BotMessages(ch))
	want := "-# ↻ regenerated after a restart\nre: first|re: second|re: third"
	if strings.Join(got, "|") != want {
		t.Fatalf("Discord shows %q, want %q", got, want)
	}
}

// The owner's delete of a DM still waiting takes it out of the queue, and
// an edit changes what is answered at its turn; neither touches memory.
func TestEditAndDeleteWhileWaiting(t *testing.T) {
	fake, db, chat, b, _, ch := busyBot(t)
	gone := fake.SendDM(ownerID, "second")
	edited := fake.SendDM(ownerID, "third")
	fake.SendDM(ownerID, "fourth")
	waitFor(t, "every DM recorded", func() bool { return countRows(db, "1") == 4 })
	fake.DeleteDM(ownerID, gone.ID)
	fake.EditDM(ownerID, edited.ID, "third, edited")
	waitFor(t, "the deleted DM dropped", func() bool { return countRows(db, "done = 1") == 1 })
	waitFor(t, "the edit recorded", func() bool { return countRows(db, "prompt = 'third, edited'") == 1 })
	close(chat.release)
	waitFor(t, "every answer", func() bool { return countRows(db, "done = 1") == 4 })
	if calls, _ := chat.seen(); strings.Join(calls, "|") != "first|third, edited|fourth" {
		t.Fatalf("chat core got %q", calls)
	}
	flush(t, b.Outbox(), 10*time.Second)
	if got := contents(fake.BotMessages(ch)); strings.Join(got, "|") != "re: first|re: third, edited|re: fourth" {
		t.Fatalf("Discord shows %q", got)
	}
}

// A DM with a file, whose reply is recorded only at its turn, is not lost
// when Mai stops while it waits: the next start answers it, once, in its
// place among the DMs that waited with it.
func TestWaitingDMWithFileSurvivesAStop(t *testing.T) {
	fake, db, _, _, stop, _ := busyBot(t)
	fake.SendDM(ownerID, "/run", fake.Attachment("hello.py", "text/x-python; charset=utf-8", []byte("print('hi')\n")))
	fake.SendDM(ownerID, "third")
	held := func() int {
		var n int
		db.QueryRow(`SELECT count(*) FROM discord_held`).Scan(&n)
		return n
	}
	waitFor(t, "the DM with a file kept", func() bool { return held() == 1 && countRows(db, "1") == 2 })
	stop()
	waitFor(t, "the gateway to see the bot go", func() bool { return !fake.Connected() })

	chat2 := newTurnChat("")
	runBot(t, fake, db, chat2)
	run := "/run\n```python\nprint('hi')\n```"
	waitFor(t, "every answer", func() bool { calls, _ := chat2.seen(); return len(calls) == 3 })
	waitFor(t, "the held DM forgotten once answered", func() bool { return held() == 0 })
	settle(func() bool { calls, _ := chat2.seen(); return len(calls) > 3 })
	if calls, _ := chat2.seen(); strings.Join(calls, "|") != "redo:first|"+run+"|third" {
		t.Fatalf("after the restart the chat core got %q, want the first redone, then the file run and the DM after it, in the order sent, once each", calls)
	}
}

// finishedAtSend is turnChat that notes, when each answer begins, how many
// replies had made their final edit by then.
type finishedAtSend struct {
	*turnChat
	db       *store.DB
	mu       sync.Mutex
	finished []int
}

func (c *finishedAtSend) Send(ctx context.Context, user string, p Prompt, emit func(Event)) error {
	c.mu.Lock()
	c.finished = append(c.finished, countRows(c.db, "done = 1"))
	c.mu.Unlock()
	return c.turnChat.Send(ctx, user, p, emit)
}

// The next DM's answer begins as soon as the chat core has stored the one
// before: the earlier reply's final edit, which keeps the edit cadence and
// so may be most of an edit interval away, follows on its own. Waiting for
// it left the model idle for up to an edit interval between two answers.
func TestNextAnswerDoesNotWaitForTheFinalEdit(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	chat := &finishedAtSend{turnChat: newTurnChat(""), db: db}
	chat.model = "m"
	b := startBot(t, fake, db, chat, Options{EditInterval: 3 * time.Second, Footer: true})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "one")
	fake.SendDM(ownerID, "two")
	waitFor(t, "both answers", func() bool { return countRows(db, "done = 1") == 2 })
	chat.mu.Lock()
	finished := append([]int(nil), chat.finished...)
	chat.mu.Unlock()
	if len(finished) != 2 || finished[1] != 0 {
		t.Fatalf("replies finished when each answer began: %v; want [0 0], the second begun before the first's final edit", finished)
	}
	flush(t, b.Outbox(), 10*time.Second)
	got := contents(fake.BotMessages(ch))
	if len(got) != 2 || got[0] != "re: one\n-# m" || got[1] != "re: two\n-# m" {
		t.Fatalf("Discord shows %q, want both answers in order, each with its footer", got)
	}
}

// doneThenBusy says its answer and that it is done, then goes on working
// (as the chat core does when it learns facts or folds old turns) until
// release.
type doneThenBusy struct{ release chan struct{} }

func (c *doneThenBusy) Send(ctx context.Context, _ string, p Prompt, emit func(Event)) error {
	emit(Event{Kind: EventText, Text: "re: " + p.Text})
	emit(Event{Kind: EventDone, Stats: Stats{Model: "m"}})
	select {
	case <-c.release:
	case <-ctx.Done():
	}
	return nil
}

func (c *doneThenBusy) Stop(string) bool { return false }

// A whole answer is shown with its footer when the chat core says it is
// done, not when its Send returns: the work the core does after an answer
// does not hold back the end of the reply.
func TestAnswerShownWholeAtItsEnd(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	chat := &doneThenBusy{release: make(chan struct{})}
	defer close(chat.release)
	startBot(t, fake, db, chat, Options{EditInterval: 100 * time.Millisecond, Footer: true})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "hello")
	waitFor(t, "the answer with its footer while the chat core still works", func() bool {
		got := contents(fake.BotMessages(ch))
		return len(got) == 1 && got[0] == "re: hello\n-# m"
	})
}
