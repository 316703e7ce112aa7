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

// scriptChat plays a fixed answer, one event per pause; the real chat core
// behind the bot is tested in the integration tests with Ollama.
type scriptChat struct {
	events []Event
	pause  time.Duration
	echo   bool // answer "re: " and the text instead of events
	// unstored answers without the stored ids (as a chat core without
	// memory would), so a reply chain is quoted
	unstored bool

	forgets []int64 // ForgetExchange calls: the stored ids
	stored  int64   // the last stored id handed out

	mu      sync.Mutex
	users   []string
	texts   []string
	prompts []Prompt
	stops   []string
}

func (c *scriptChat) Send(ctx context.Context, user string, p Prompt, emit func(Event)) error {
	text := p.Text
	c.mu.Lock()
	c.users = append(c.users, user)
	c.texts = append(c.texts, text)
	c.prompts = append(c.prompts, p)
	c.stored += 2 // the message and its answer, as the chat core stores them
	ids := Stats{MessageID: c.stored - 1, AnswerID: c.stored}
	if c.unstored {
		ids = Stats{}
	}
	c.mu.Unlock()
	if c.echo {
		emit(Event{Kind: EventText, Text: "re: " + text})
		emit(Event{Kind: EventDone, Stats: ids})
		return nil
	}
	for _, e := range c.events {
		select {
		case <-time.After(c.pause):
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.Kind == EventDone && e.Stats.MessageID == 0 {
			e.Stats.MessageID, e.Stats.AnswerID = ids.MessageID, ids.AnswerID
		}
		emit(e)
	}
	return nil
}

func (c *scriptChat) Stop(user string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stops = append(c.stops, user)
	return true
}

func (c *scriptChat) ForgetExchange(_ context.Context, _ string, id int64) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgets = append(c.forgets, id)
	return 0, nil
}

func (c *scriptChat) forgot() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.forgets)
}

func (c *scriptChat) sent() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.texts...)
}

func words(n int) ([]Event, string) {
	var evs []Event
	var all strings.Builder
	for i := 0; i < n; i++ {
		w := "word" + string(rune('a'+i%26)) + " "
		evs = append(evs, Event{Kind: EventText, Text: w})
		all.WriteString(w)
	}
	return evs, strings.TrimSpace(all.String()) // as Discord shows it
}

// startBot runs a bot against fake until the test ends.
func startBot(t testing.TB, fake *discordtest.Server, db *store.DB, chat Chat, o Options) *Bot {
	t.Helper()
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	o.Owner = ownerID
	o.Log = testLog(t)
	b := New(s, db.DB, chat, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the bot to connect", fake.Connected)
	return b
}

func waitFor(t testing.TB, what string, cond func() bool) {

	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestStreamedReply(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	evs, want := words(30)
	evs = append(evs, Event{Kind: EventDone, Stats: Stats{Model: "ollama:tiny", TokensPerSecond: 12.5, ContextTokens: 100, ContextWindow: 2048}})
	chat := &scriptChat{events: evs, pause: 100 * time.Millisecond}
	interval := 500 * time.Millisecond
	b := startBot(t, fake, db, chat, Options{EditInterval: interval, Footer: true})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "tell me something")
	footer := "\n-# ollama:tiny · 12.5 tok/s · context 100/2048"
	waitFor(t, "the final edit", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content == want+footer
	})
	flush(t, b.Outbox(), 10*time.Second)
	calls := fake.Calls()
	edits := countRoute(calls, "PATCH /channels/{id}/messages/{m}")
	if edits < 3 {
		t.Fatalf("%d edits for a 3-second answer at a 500 ms cadence, want at least 3", edits)
	}
	var firstTyping, firstPost int = -1, -1
	for i, c := range calls {
		if c.Route == "POST /channels/{id}/typing" && firstTyping < 0 {
			firstTyping = i
		}
		if c.Route == "POST /channels/{id}/messages" && firstPost < 0 {
			firstPost = i
		}
	}
	if firstTyping < 0 || firstTyping > firstPost {
		t.Fatalf("typing at call %d, first message at %d: want typing first", firstTyping, firstPost)
	}
	// The edits were queued no faster than the interval.
	rows, err := db.Query(`SELECT created FROM discord_outbox WHERE op = 'edit' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var prev time.Time
	for rows.Next() {
		var s string
		rows.Scan(&s)
		at, _ := time.Parse(time.RFC3339Nano, s)
		if !prev.IsZero() && at.Sub(prev) < interval-10*time.Millisecond {
			t.Fatalf("two edits queued %s apart, interval %s", at.Sub(prev), interval)
		}
		prev = at
	}
	if fake.RateLimited() != 0 {
		t.Fatalf("%d 429s while streaming", fake.RateLimited())
	}
	if got := chat.sent(); len(got) != 1 || got[0] != "tell me something" {
		t.Fatalf("chat core got %q", got)
	}
	waitFor(t, "the presence to show idle with the model", func() bool {
		p := fake.Presences()
		return len(p) == 2 && p[0] == "answering…" && p[1] == "idle · ollama:tiny"
	})
}

func TestLongReplyContinues(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	para := strings.Repeat("All work and no play. ", 45) + "\n\n" // 992 characters
	answer := strings.Repeat(para, 4) + "```go\n" + strings.Repeat("fmt.Println(\"é\")\n", 60) + "```\nEnd."
	chat := &scriptChat{events: []Event{{Kind: EventText, Text: answer[:1500]}, {Kind: EventText, Text: answer[1500:]}, {Kind: EventDone}}, pause: 50 * time.Millisecond}
	startBot(t, fake, db, chat, Options{EditInterval: 300 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "long please")
	want := Split(answer, MaxMessage)
	waitFor(t, "every part", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == len(want) && m[len(m)-1].Content == want[len(want)-1]
	})
	for i, m := range fake.BotMessages(ch) {
		if m.Content != want[i] {
			t.Fatalf("message %d = %.60q…, want %.60q…", i, m.Content, want[i])
		}
	}
	if len(want) < 3 {
		t.Fatalf("the answer made %d parts; the test wants at least 3", len(want))
	}
}

func TestRestartDiscardsTheAnswerSoFar(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	chat := &scriptChat{events: []Event{
		{Kind: EventText, Text: "first model's half answer"},
		{Kind: EventRestart, Text: "a failed; starting the answer again with b"},
		{Kind: EventText, Text: "whole answer"}, {Kind: EventDone},
	}, pause: 30 * time.Millisecond}
	startBot(t, fake, db, chat, Options{EditInterval: 200 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "hi")
	want := "-# ↻ a failed; starting the answer again with b\nwhole answer"
	waitFor(t, "the restarted answer", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content == want
	})
}

func TestOthersAreRefusedOnceADay(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		fake := newFake(t, discordtest.Options{})
		db := openDB(t, t.TempDir())
		chat := &scriptChat{events: []Event{{Kind: EventText, Text: "secret"}, {Kind: EventDone}}}
		b := startBot(t, fake, db, chat, Options{RefuseOthers: refuse})
		stranger := "200000000000000002"
		ch := fake.DMChannel(stranger)
		fake.SendDM(stranger, "hello?")
		fake.SendDM(stranger, "hello again?")
		// The owner's DM after them is answered, so the stranger's were handled.
		fake.SendDM(ownerID, "me")
		waitFor(t, "the owner's answer", func() bool { return len(fake.BotMessages(fake.DMChannel(ownerID))) == 1 })
		flush(t, b.Outbox(), 10*time.Second)
		got := contents(fake.BotMessages(ch))
		want := []string(nil)
		if refuse {
			want = []string{Refusal}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("refuse=%v: the stranger got %q, want %q", refuse, got, want)
		}
		if s := chat.sent(); len(s) != 1 || s[0] != "me" {
			t.Fatalf("chat core got %q, want only the owner's message", s)
		}
	}
}

func TestReplySurvivesOutageAndGatewayDrop(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	evs, want := words(40)
	evs = append(evs, Event{Kind: EventDone})
	chat := &scriptChat{events: evs, pause: 75 * time.Millisecond}
	b := startBot(t, fake, db, chat, Options{EditInterval: 300 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "go")
	waitFor(t, "the first message", func() bool { return len(fake.BotMessages(ch)) == 1 })
	fake.DropGateway()
	fake.SetDown(true)
	time.Sleep(2 * time.Second)
	fake.SetDown(false)
	waitFor(t, "the complete answer", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content == want
	})
	waitFor(t, "the gateway to come back", fake.Connected)
	fake.SendDM(ownerID, "again")
	waitFor(t, "the answer after the resume", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 2 && m[1].Content == want
	})
	flush(t, b.Outbox(), 10*time.Second)
	if m := fake.BotMessages(ch); len(m) != 2 || m[0].Content != want {
		t.Fatalf("bot messages %q", contents(m))
	}
}

func TestWithoutChatCoreDMsSayChatIsOff(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	startBot(t, fake, db, nil, Options{})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "hello")
	waitFor(t, "the answer", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content == ChatOff
	})
}

// The owner's 🛑 stops the generation, 🔁 regenerates, 🗑️ forgets the
// exchange; a
// stranger's reactions do nothing.
func TestReactionsOnAReply(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	chat := &scriptChat{events: []Event{{Kind: EventText, Text: "an answer"}, {Kind: EventDone}}}
	startBot(t, fake, db, chat, Options{EditInterval: 100 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "question")
	waitFor(t, "the reply", func() bool { return len(fake.BotMessages(ch)) == 1 })
	reply := fake.BotMessages(ch)[0].ID
	stranger := "200000000000000002"
	for _, e := range []string{EmojiStop, EmojiRegenerate, EmojiForget} {
		fake.React(stranger, ch, reply, e)
	}
	fake.React(ownerID, ch, reply, EmojiStop)
	fake.React(ownerID, ch, reply, EmojiRegenerate)
	waitFor(t, "the regeneration", func() bool { return len(chat.sent()) == 2 })
	fake.React(ownerID, ch, reply, "🗑")
	waitFor(t, "the forgetting", func() bool { return chat.forgot() == 1 })
	waitFor(t, "the reply marked forgotten", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content == "-# "+ForgottenByReaction
	})
	chat.mu.Lock()
	stops := append([]string(nil), chat.stops...)
	chat.mu.Unlock()
	if got := chat.sent(); strings.Join(got, "|") != "question|/regenerate" || len(stops) != 1 || stops[0] != ownerID {
		t.Fatalf("chat core got %q and stops %q", got, stops)
	}
}
