package discord

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
)

// lmBot runs a bot over the real chat core, routed to a fake LM Studio
// with models, against a new fake Discord.
func lmBot(t *testing.T, models ...lmstudiotest.Model) (*discordtest.Server, *lmstudiotest.Server, *store.DB, *Bot, string) {
	t.Helper()
	lm := lmstudiotest.New(t, models...)
	be := lmstudio.New(lmstudio.Config{Endpoint: lm.URL})
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{{Backend: be, Pool: "gpu"}},
		Pools:     []router.Pool{{Name: "gpu", Bytes: 12 << 30}}, ContextLength: 4096,
		Preferences: router.ParsePreferences([]string{"lmstudio:" + models[0].Key}, []string{be.Name()}),
	})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, t.TempDir())
	core, err := chat.New(chat.Config{Models: chat.FromRouter(r), Memory: memory.New(db, memory.Options{}), FactsEvery: -1,
		Persona: func() (string, error) { return "You are Mai, the test persona.", nil }})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake(t, discordtest.Options{})
	b := startBot(t, fake, db, FromCore(core), Options{EditInterval: 100 * time.Millisecond})
	return fake, lm, db, b, fake.DMChannel(ownerID)
}

var (
	textModel   = lmstudiotest.Model{Key: "qwen/qwen3-8b", SizeBytes: 5 << 30, ParamsString: "8B", ToolUse: true}
	visionModel = lmstudiotest.Model{Key: "qwen/qwen2.5-vl-7b", SizeBytes: 6 << 30, ParamsString: "7B", Vision: true, ToolUse: true}
	pngImage    = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 3000)...)
)

// settled waits until n replies were started and all are finished, and
// the outbox has sent them.
func settled(t *testing.T, db *store.DB, b *Bot, n int) {
	t.Helper()
	waitFor(t, "the finished replies", func() bool {
		var started int
		db.QueryRow(`SELECT count(*) FROM discord_replies`).Scan(&started)
		return started == n && replyDone(db)
	})
	flush(t, b.Outbox(), 20*time.Second)
}

// The last chat request the fake LM Studio received.
func lastChat(t *testing.T, lm *lmstudiotest.Server) lmstudiotest.ChatRequest {
	t.Helper()
	reqs := lm.ChatRequests()
	if len(reqs) == 0 {
		t.Fatal("no chat request reached LM Studio")
	}
	return reqs[len(reqs)-1]
}

// An image in a DM is downloaded from Discord and given, with the text,
// to the vision model (loaded in place of the text model); the answer
// streams into the reply as any other.
func TestImageIsSeenByTheVisionModel(t *testing.T) {
	fake, lm, db, b, ch := lmBot(t, textModel, visionModel)
	fake.SendDM(ownerID, "what is this?", fake.Attachment("cat.png", "image/png", pngImage))
	settled(t, db, b, 1)
	req := lastChat(t, lm)
	m := req.Messages[len(req.Messages)-1]
	if req.Model != visionModel.Key || m.Content != "what is this?\n[image: image/png, 3 KB]" || len(m.Images) != 1 || m.Images[0].MIME != "image/png" || !bytes.Equal(m.Images[0].Data, pngImage) {
		t.Fatalf("LM Studio got %s with %q and %d images", req.Model, m.Content, len(m.Images))
	}
	if got := contents(fake.BotMessages(ch)); len(got) != 1 || got[0] != "You said: what is this?\n[image: image/png, 3 KB]" {
		t.Fatalf("Discord shows %q", got)
	}
	if lm.Loads() != 1 || len(lm.Instances()) != 1 {
		t.Fatalf("%d loads, instances %+v; want the vision model loaded once", lm.Loads(), lm.Instances())
	}
}

// Without a vision model the image is answered with what to install, and
// no model is asked.
func TestImageWithoutVisionModel(t *testing.T) {
	fake, lm, db, b, ch := lmBot(t, textModel)
	fake.SendDM(ownerID, "", fake.Attachment("cat.png", "image/png", pngImage))
	settled(t, db, b, 1)
	if got := contents(fake.BotMessages(ch)); len(got) != 1 || got[0] != chat.NoVision {
		t.Fatalf("Discord shows %q", got)
	}
	if n := len(lm.ChatRequests()); n != 0 {
		t.Fatalf("%d chat requests", n)
	}
}

// Images too large or not images are refused, each with one line, before
// anything reaches the chat core.
func TestImageRefusals(t *testing.T) {
	fake, chat, ch := attachBot(t)
	big := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxImage)...)
	fake.SendDM(ownerID, "", fake.Attachment("huge.png", "image/png", big))
	fake.SendDM(ownerID, "", fake.Attachment("fake.png", "image/png", []byte("just some text, no pixels")))
	fake.SendDM(ownerID, "", fake.Attachment("old.bmp", "image/bmp", []byte("BM\x00\x00")))
	want := []string{
		"⚠️ huge.png is larger than 10 MiB, the most Mai gives a model to see; send a smaller image",
		"⚠️ fake.png is not a PNG, JPEG or WebP image; those are what a model can be shown",
		"⚠️ old.bmp is not a PNG, JPEG or WebP image; those are what a model can be shown",
	}
	waitFor(t, "three refusals", func() bool { return len(fake.BotMessages(ch)) == 3 })
	got := contents(fake.BotMessages(ch)) // each DM is served on its own: in any order
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if s := chat.sent(); len(s) != 0 {
		t.Fatalf("the chat core got %q", s)
	}
}

// botMessage waits for Mai's message with content and returns it.
func botMessage(t *testing.T, fake *discordtest.Server, ch, content string) discordgo.Message {
	t.Helper()
	var found discordgo.Message
	waitFor(t, "Mai's message "+content, func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.Content == content {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// sentTurns lists role:content of a request's messages after the system turn.
func sentTurns(req lmstudiotest.ChatRequest) string {
	var out []string
	for _, m := range req.Messages[1:] {
		out = append(out, m.Role+":"+m.Content)
	}
	return strings.Join(out, "|")
}

// A DM that replies to an earlier answer is answered from that branch:
// the model gets the reply chain back to its root, not the conversation's
// latest turns, and a reply to the reply's answer continues the branch.
func TestReplyBranchIsTheModelsContext(t *testing.T) {
	fake, lm, db, b, ch := lmBot(t, textModel)
	fake.SendDM(ownerID, "tell me about tortoises")
	settled(t, db, b, 1)
	fake.SendDM(ownerID, "now about volcanoes")
	settled(t, db, b, 2)
	first := botMessage(t, fake, ch, "You said: tell me about tortoises")

	fake.ReplyDM(ownerID, "how long do they live?", first.ID)
	settled(t, db, b, 3)
	want := "user:tell me about tortoises|assistant:You said: tell me about tortoises|user:how long do they live?"
	if got := sentTurns(lastChat(t, lm)); got != want {
		t.Fatalf("the model got\n%s\nwant\n%s", got, want)
	}

	second := botMessage(t, fake, ch, "You said: how long do they live?")
	fake.ReplyDM(ownerID, "and the oldest?", second.ID)
	settled(t, db, b, 4)
	want += "|assistant:You said: how long do they live?|user:and the oldest?"
	if got := sentTurns(lastChat(t, lm)); got != want {
		t.Fatalf("the model got\n%s\nwant\n%s", got, want)
	}
	// A plain DM again answers from the conversation's latest turns.
	fake.SendDM(ownerID, "thanks")
	settled(t, db, b, 5)
	if got := sentTurns(lastChat(t, lm)); !strings.Contains(got, "volcanoes") {
		t.Fatalf("the model got %s, want the latest turns", got)
	}
}
