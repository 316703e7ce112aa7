package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
)

// lmCore is the real chat core over db, routed to the fake LM Studio lm,
// whose model answers "You said: " and the last message.
func lmCore(t *testing.T, lm *lmstudiotest.Server, db *store.DB) *chat.Core {
	t.Helper()
	be := lmstudio.New(lmstudio.Config{Endpoint: lm.URL})
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{{Backend: be, Pool: "gpu"}},
		Pools:     []router.Pool{{Name: "gpu", Bytes: 12 << 30}}, ContextLength: 4096,
		Preferences: router.ParsePreferences([]string{"lmstudio:" + textModel.Key}, []string{be.Name()}),
	})
	if err != nil {
		t.Fatal(err)
	}
	core, err := chat.New(chat.Config{Models: chat.FromRouter(r), Memory: memory.New(db, memory.Options{}), FactsEvery: -1,
		Persona: func() (string, error) { return "You are Mai, the test persona.", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return core
}

// stored lists what memory holds, "role:content" in the order stored.
func storedTurns(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT role, content FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var role, content string
		if err := rows.Scan(&role, &content); err != nil {
			t.Fatal(err)
		}
		out = append(out, role+":"+content)
	}
	return out
}

// searchFinds reports whether memory's full-text search finds word
// among the owner's messages.
func searchFinds(t *testing.T, db *store.DB, word string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?`, word).Scan(&n); err != nil {
		t.Fatal(err)
	}
	rs, err := memory.New(db, memory.Options{}).Recall(context.Background(), ownerID, word, 5)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0 || len(rs) > 0
}

// askAll sends the owner's DMs one after the other, each answered before
// the next, and returns them and Mai's replies.
func askAll(t *testing.T, fake *discordtest.Server, db *store.DB, b *Bot, ch string, texts ...string) (dms, replies []string) {
	t.Helper()
	var n int
	db.QueryRow(`SELECT count(*) FROM discord_replies`).Scan(&n)
	for i, text := range texts {
		dms = append(dms, fake.SendDM(ownerID, text).ID)
		settled(t, db, b, n+i+1)
		replies = append(replies, botMessage(t, fake, ch, "You said: "+text).ID)
	}
	return dms, replies
}

// shows waits until Mai's message id shows want.
func shows(t *testing.T, fake *discordtest.Server, ch, id, want string) {
	t.Helper()
	waitFor(t, "Mai's message to show "+want, func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.ID == id {
				return m.Content == want
			}
		}
		return false
	})
}

// Deleting a DM that is not the latest forgets its exchange for real and
// leaves the exchanges before and after it.
func TestDeleteOlderDMForgetsItsExchange(t *testing.T) {
	fake, _, db, b, ch := lmBot(t, textModel)
	dms, replies := askAll(t, fake, db, b, ch, "tell me about tortoises", "now about volcanoes", "and lighthouses")
	fake.DeleteDM(ownerID, dms[1])
	shows(t, fake, ch, replies[1], "-# "+Forgotten)
	want := []string{
		"user:tell me about tortoises", "assistant:You said: tell me about tortoises",
		"user:and lighthouses", "assistant:You said: and lighthouses",
	}
	if got := storedTurns(t, db); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("memory holds\n%q\nwant\n%q", got, want)
	}
	if searchFinds(t, db, "volcanoes") {
		t.Fatal("memory's search still finds the forgotten exchange")
	}
	if !searchFinds(t, db, "lighthouses") {
		t.Fatal("memory's search lost a later exchange")
	}
	flush(t, b.Outbox(), 20*time.Second)
	if got := contents(fake.BotMessages(ch)); len(got) != 3 || got[0] != "You said: tell me about tortoises" || got[2] != "You said: and lighthouses" {
		t.Fatalf("Discord shows %q", got)
	}
}

// Editing a DM that is not the latest answers the new text in the old
// reply's message, from the point of the conversation where the old
// text was; the old exchange is forgotten, the new one stored.
func TestEditOlderDMIsAnsweredFromItsPlace(t *testing.T) {
	fake, lm, db, b, ch := lmBot(t, textModel)
	dms, replies := askAll(t, fake, db, b, ch, "tell me about tortoises", "now about volcanoes", "and lighthouses")
	fake.EditDM(ownerID, dms[1], "now about glaciers")
	shows(t, fake, ch, replies[1], "-# ✏️ answered again: you edited your message\nYou said: now about glaciers")
	settled(t, db, b, 4)
	// The model saw the conversation up to where the edited DM was.
	if got, want := sentTurns(lastChat(t, lm)), "user:tell me about tortoises|assistant:You said: tell me about tortoises|user:now about glaciers"; got != want {
		t.Fatalf("the model got\n%s\nwant\n%s", got, want)
	}
	want := []string{
		"user:tell me about tortoises", "assistant:You said: tell me about tortoises",
		"user:and lighthouses", "assistant:You said: and lighthouses",
		"user:now about glaciers", "assistant:You said: now about glaciers",
	}
	if got := storedTurns(t, db); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("memory holds\n%q\nwant\n%q", got, want)
	}
	var parent string
	db.QueryRow(`SELECT p.content FROM messages m JOIN messages p ON p.id = m.reply_to WHERE m.content = 'now about glaciers'`).Scan(&parent)
	if parent != "You said: tell me about tortoises" {
		t.Fatalf("the edited DM is stored as continuing from %q", parent)
	}
	if searchFinds(t, db, "volcanoes") {
		t.Fatal("memory's search still finds the edited-away exchange")
	}
	if got := contents(fake.BotMessages(ch)); len(got) != 3 {
		t.Fatalf("Discord shows %q; want the new answer in the old message, nothing posted", got)
	}
}

// After a restart, when the bot holds none of its replies, a deleted DM
// and a 🗑 on a reply still forget their exchanges.
func TestForgetAfterARestart(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	lm := lmstudiotest.New(t, textModel)
	db := openDB(t, t.TempDir())
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	first := New(s, db.DB, FromCore(lmCore(t, lm, db)), Options{Owner: ownerID, Log: testLog(t), EditInterval: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	waitFor(t, "the bot to connect", fake.Connected)
	ch := fake.DMChannel(ownerID)
	dms, replies := askAll(t, fake, db, first, ch, "tell me about tortoises", "now about volcanoes", "and lighthouses")
	cancel()
	<-done

	b := startBot(t, fake, db, FromCore(lmCore(t, lm, db)), Options{EditInterval: 100 * time.Millisecond})
	fake.DeleteDM(ownerID, dms[0])
	shows(t, fake, ch, replies[0], "-# "+Forgotten)
	fake.React(ownerID, ch, replies[2], EmojiForget)
	shows(t, fake, ch, replies[2], "-# "+ForgottenByReaction)
	flush(t, b.Outbox(), 20*time.Second)
	want := []string{"user:now about volcanoes", "assistant:You said: now about volcanoes"}
	if got := storedTurns(t, db); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("memory holds\n%q\nwant\n%q", got, want)
	}
	for _, word := range []string{"tortoises", "lighthouses"} {
		if searchFinds(t, db, word) {
			t.Fatalf("memory's search still finds %q", word)
		}
	}
}

// Someone else's edit or delete changes nothing: not memory, not Mai's
// replies.
func TestStrangersEditOrDeleteChangesNothing(t *testing.T) {
	fake, _, db, b, ch := lmBot(t, textModel)
	dms, _ := askAll(t, fake, db, b, ch, "tell me about tortoises")
	stranger := "200000000000000002"
	theirs := fake.SendDM(stranger, "hello")
	fake.EditDM(stranger, theirs.ID, "tell me about volcanoes")
	fake.DeleteDM(stranger, theirs.ID)
	fake.DeleteDM(stranger, dms[0])               // the owner's message id, from another channel
	askAll(t, fake, db, b, ch, "and lighthouses") // acted on after the stranger's events
	time.Sleep(200 * time.Millisecond)
	want := []string{
		"user:tell me about tortoises", "assistant:You said: tell me about tortoises",
		"user:and lighthouses", "assistant:You said: and lighthouses",
	}
	if got := storedTurns(t, db); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("memory holds\n%q\nwant\n%q", got, want)
	}
	if got := contents(fake.BotMessages(ch)); len(got) != 2 || got[0] != "You said: tell me about tortoises" {
		t.Fatalf("Discord shows %q", got)
	}
}

// The same with the real tiny model: editing the older of two DMs answers
// the new text in the old reply's message with what the model produced,
// and memory holds the new exchange, not the old one.
func TestEditOlderDMRealOllama(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	core, mem := ollamaCore(t, db, 0)
	b := startBot(t, fake, db, FromCore(core), Options{EditInterval: 100 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	first := fake.SendDM(ownerID, "tell me about tortoises")
	settled(t, db, b, 1)
	fake.SendDM(ownerID, "now about volcanoes")
	settled(t, db, b, 2)
	old := fake.BotMessages(ch)[0]
	fake.EditDM(ownerID, first.ID, "tell me about glaciers")
	settled(t, db, b, 3)
	var users []string
	for _, turn := range storedTurns(t, db) {
		if strings.HasPrefix(turn, "user:") {
			users = append(users, turn)
		}
	}
	if want := "user:now about volcanoes|user:tell me about glaciers"; strings.Join(users, "|") != want {
		t.Fatalf("memory holds the owner's %q, want %q", users, want)
	}
	if searchFinds(t, db, "tortoises") {
		t.Fatal("memory's search still finds the edited-away DM")
	}
	answer := lastAnswer(t, mem)
	shows(t, fake, ch, old.ID, "-# ✏️ answered again: you edited your message\n"+answer.Content)
	if n := len(fake.BotMessages(ch)); n != 2 {
		t.Fatalf("%d messages of Mai's, want the two replies", n)
	}
}
