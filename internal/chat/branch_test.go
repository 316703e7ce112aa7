package chat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// sentTurns lists role:content of a request's messages after the system turn.
func sentTurns(req lmstudiotest.ChatRequest) []string {
	var out []string
	for _, m := range req.Messages[1:] {
		out = append(out, m.Role+":"+m.Content)
	}
	return out
}

// twoExchanges is a core whose conversation holds two exchanges, about
// tortoises then volcanoes; it returns the first's events.
func twoExchanges(t *testing.T) (*lmstudiotest.Server, *chat.Core, *events) {
	t.Helper()
	srv, r := fakeLMStudio(t)
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: openMemory(t, dbPath(t)), FactsEvery: -1})
	first, err := send(t, c, "u1", "tell me about tortoises")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, "u1", "now about volcanoes"); err != nil {
		t.Fatal(err)
	}
	return srv, c, first
}

// A message that replies to an earlier answer is answered from that
// branch: the model gets the reply chain back to its root, not the
// conversation's latest turns; /regenerate keeps the branch.
func TestReplyIsAnsweredFromItsBranch(t *testing.T) {
	srv, c, first := twoExchanges(t)
	st := first.done()
	if st == nil || st.MessageID == 0 || st.AnswerID == 0 {
		t.Fatalf("stats %+v name no stored ids", st)
	}
	ev := &events{}
	if err := c.Send(context.Background(), chat.Message{User: "u1", Text: "how long do they live?", ReplyTo: st.AnswerID}, ev.emit); err != nil {
		t.Fatal(err)
	}
	want := "user:tell me about tortoises|assistant:You said: tell me about tortoises|user:how long do they live?"
	reqs := srv.ChatRequests()
	if got := strings.Join(sentTurns(reqs[len(reqs)-1]), "|"); got != want {
		t.Fatalf("the model got\n%s\nwant\n%s", got, want)
	}
	if _, err := send(t, c, "u1", "/regenerate"); err != nil {
		t.Fatal(err)
	}
	reqs = srv.ChatRequests()
	if got := strings.Join(sentTurns(reqs[len(reqs)-1]), "|"); got != want {
		t.Fatalf("regenerated with\n%s\nwant\n%s", got, want)
	}
	// A reply to a message memory does not hold is answered from the
	// latest turns, saying so.
	ev = &events{}
	if err := c.Send(context.Background(), chat.Message{User: "u1", Text: "and this?", ReplyTo: 9999}, ev.emit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.text(chat.EventNotice), "not in Mai's memory") {
		t.Fatalf("notices %q", ev.text(chat.EventNotice))
	}
	reqs = srv.ChatRequests()
	if got := sentTurns(reqs[len(reqs)-1]); !strings.Contains(strings.Join(got, "|"), "volcanoes") {
		t.Fatalf("the model got %q, want the latest turns", got)
	}
}

var png = []byte("\x89PNG\r\n\x1a\n fake pixels")

// An image goes to the installed vision model with its message; memory
// keeps a note of it.
func TestImageGoesToTheVisionModel(t *testing.T) {
	srv := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "big", SizeBytes: 4 * gib, ParamsString: "8B", ToolUse: true},
		lmstudiotest.Model{Key: "seer", SizeBytes: 3 * gib, ParamsString: "7B", Vision: true},
	)
	r := newRouter(t, []string{"lmstudio:big"}, lmstudio.New(lmstudio.Config{Endpoint: srv.URL}))
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1})
	ev := &events{}
	err := c.Send(context.Background(), chat.Message{User: "u1", Text: "what is this?", Images: []chat.Image{{MIME: "image/png", Data: png}}}, ev.emit)
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1]
	m := last.Messages[len(last.Messages)-1]
	if last.Model != "seer" || len(m.Images) != 1 || string(m.Images[0].Data) != string(png) || m.Images[0].MIME != "image/png" {
		t.Fatalf("request to %s, last message %+v", last.Model, m)
	}
	if st := ev.done(); st == nil || st.Model != "seer" {
		t.Fatalf("stats %+v", st)
	}
	ms, _ := stored(t, mem, c, "u1")
	if ms[0].Content != "what is this?\n[image: image/png, 1 KB]" {
		t.Fatalf("stored %q", ms[0].Content)
	}
}

// Without a vision model an image alone is answered with NoVision and
// nothing is stored or sent; with text, the text is answered after it.
func TestImageWithoutVisionModel(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1})
	ev := &events{}
	img := []chat.Image{{MIME: "image/png", Data: png}}
	if err := c.Send(context.Background(), chat.Message{User: "u1", Images: img}, ev.emit); err != nil {
		t.Fatal(err)
	}
	if got := ev.text(chat.EventReply); got != chat.NoVision {
		t.Fatalf("answered %q", got)
	}
	if n := len(srv.ChatRequests()); n != 0 {
		t.Fatalf("%d chat requests", n)
	}
	ev = &events{}
	if err := c.Send(context.Background(), chat.Message{User: "u1", Text: "hello", Images: img}, ev.emit); err != nil {
		t.Fatal(err)
	}
	if ev.text(chat.EventNotice) != chat.NoVision || ev.text(chat.EventText) != "You said: hello" {
		t.Fatalf("notice %q, answer %q", ev.text(chat.EventNotice), ev.text(chat.EventText))
	}
	if ms, _ := stored(t, mem, c, "u1"); len(ms) != 2 || ms[0].Content != "hello" {
		t.Fatalf("stored %+v", ms)
	}
}
