package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/chat/chattest"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollamaCore is the real chat core over the real tiny Ollama model, behind
// a proxy that paces the streamed answer like a GPU (pace per token).
func ollamaCore(t testing.TB, db *store.DB, pace time.Duration) (*chat.Core, *memory.Store) {
	t.Helper()
	srv := sharedOllama.Server(t)
	proxy := chattest.NewProxy(t, srv.URL(), pace)
	be, err := ollama.New(proxy.URL, ollama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := router.New(router.Config{
		Endpoints:   []router.Endpoint{{Backend: be, Pool: "gpu"}},
		Pools:       []router.Pool{{Name: "gpu", Bytes: 24 << 30}},
		Preferences: router.ParsePreferences([]string{"ollama:" + ollamatest.ChatModel}, []string{be.Name()}), ContextLength: 4096,
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(db, memory.Options{})
	core, err := chat.New(chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1, MaxTokens: 60,
		Persona: func() (string, error) { return "You are Mai, the test persona.", nil }})
	if err != nil {
		t.Fatal(err)
	}
	return core, mem
}

// lastAnswer is the assistant message the chat core stored for the owner.
func lastAnswer(t testing.TB, mem *memory.Store) memory.Message {
	t.Helper()
	ctx := context.Background()
	conv, err := mem.LatestConversation(ctx, ownerID)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := mem.Messages(ctx, conv.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == memory.RoleAssistant {
			return msgs[i]
		}
	}
	t.Fatal("the chat core stored no answer")
	return memory.Message{}
}

// askRealOllama runs a bot over the real chat core and tiny model, paced
// at 60 ms a token and edited every 300 ms, and sends it the owner's DM.
func askRealOllama(t testing.TB) (*discordtest.Server, *store.DB, *Bot, *memory.Store, string) {
	t.Helper()
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	core, mem := ollamaCore(t, db, 60*time.Millisecond)
	b := startBot(t, fake, db, FromCore(core), Options{EditInterval: 300 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "tell me about tortoises")
	return fake, db, b, mem, ch
}

// finished waits for the reply to end and the outbox to flush, and checks
// that Discord shows exactly the answer the chat core stored.
func finished(t testing.TB, fake *discordtest.Server, db *store.DB, b *Bot, mem *memory.Store, ch string) memory.Message {
	t.Helper()
	waitFor(t, "the finished reply", func() bool { return replyDone(db) })
	flush(t, b.Outbox(), 60*time.Second)
	answer := lastAnswer(t, mem)
	msgs := fake.BotMessages(ch)
	if want := Split(answer.Content, MaxMessage); strings.Join(contents(msgs), "") != strings.Join(want, "") || len(msgs) != len(want) {
		t.Fatalf("Discord shows %q\nthe model produced %q", contents(msgs), answer.Content)
	}
	return answer
}

// replyDone reports whether every reply was finished.
func replyDone(db *store.DB) bool {
	var n, open int
	db.QueryRow(`SELECT count(*), coalesce(sum(done = 0), 0) FROM discord_replies`).Scan(&n, &open)
	return n > 0 && open == 0
}

func TestStreamedReplyRealOllama(t *testing.T) {
	fake, db, b, mem, ch := askRealOllama(t)
	answer := finished(t, fake, db, b, mem, ch)
	if answer.Model != ollamatest.ChatModel || answer.Tokens < 15 {
		t.Fatalf("answer by %q with %d tokens; the test needs a long enough answer of the real model", answer.Model, answer.Tokens)
	}
	if edits := countRoute(fake.Calls(), "PATCH /channels/{id}/messages/{m}"); edits < 3 {
		t.Fatalf("%d edits of a paced answer of %d tokens, want at least 3", edits, answer.Tokens)
	}
	if fake.RateLimited() != 0 {
		t.Fatalf("%d 429s", fake.RateLimited())
	}
}

// A 10-second REST outage and a gateway drop in the middle of a real
// answer: the outbox waits, then the answer is finished in the same
// message, nothing sent twice, and the gateway resumes.
func TestOutageMidAnswerRealOllama(t *testing.T) {
	testenv.Short(t, "waits out a 10-second Discord outage")
	fake, db, b, mem, ch := askRealOllama(t)
	waitFor(t, "the first text", func() bool { return len(fake.BotMessages(ch)) == 1 })
	fake.DropGateway()
	fake.SetDown(true)
	time.Sleep(10 * time.Second)
	fake.SetDown(false)
	finished(t, fake, db, b, mem, ch)
	waitFor(t, "the gateway to resume", func() bool { return fake.Connected() && fake.Resumes() >= 1 })
	if fake.RateLimited() != 0 {
		t.Fatalf("%d 429s", fake.RateLimited())
	}
}

// An answer a restart interrupted is regenerated through the real chat
// core without storing the owner's message a second time: memory holds it
// once, and one answer to it.
func TestRestartRegeneratesWithoutStoringTwiceRealOllama(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	core, mem := ollamaCore(t, db, 200*time.Millisecond)
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	first := New(s, db.DB, FromCore(core), Options{Owner: ownerID, Log: testLog(t), EditInterval: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	waitFor(t, "the bot to connect", fake.Connected)
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "tell me about tortoises")
	waitFor(t, "a partly streamed answer", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content != ""
	})
	cancel() // a shutdown mid-answer: the reply stays unfinished
	<-done
	if replyDone(db) {
		t.Fatal("the reply was finished before the shutdown; the test needs it interrupted")
	}

	core2, _ := ollamaCore(t, db, 0)
	b := startBot(t, fake, db, FromCore(core2), Options{EditInterval: 300 * time.Millisecond})
	waitFor(t, "the finished reply", func() bool { return replyDone(db) })
	flush(t, b.Outbox(), 60*time.Second)
	if m, want := fake.BotMessages(ch), "-# ↻ regenerated after a restart\n"+lastAnswer(t, mem).Content; len(m) != 1 || m[0].Content != want {
		t.Fatalf("Discord shows %q, want %q in the one message", contents(m), want)
	}
	conv, err := mem.LatestConversation(context.Background(), ownerID)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := mem.Messages(context.Background(), conv.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range msgs {
		roles = append(roles, string(m.Role))
		if m.Role == memory.RoleUser && m.Content != "tell me about tortoises" {
			t.Errorf("stored user message %q", m.Content)
		}
	}
	if strings.Join(roles, ",") != "user,assistant" {
		t.Fatalf("memory holds %v after the restart, want the message once and one answer", roles)
	}
}
