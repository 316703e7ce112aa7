package chat_test

import (
	"context"
	"slices"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// Redo answers a message the core never stored as a new one, and the same
// message again (a front end's restart) by replacing its answer: it is
// stored once.
func TestRedoStoresTheMessageOnce(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"an older answer"}}, lmstudiotest.Reply{Chunks: []string{"first try"}},
		lmstudiotest.Reply{Chunks: []string{"second try"}})
	if _, err := send(t, c, "u1", "an older question"); err != nil {
		t.Fatal(err)
	}
	redo := func() {
		t.Helper()
		if err := c.Redo(context.Background(), chat.Message{User: "u1", Text: "a question", MaxTokens: 16}, (&events{}).emit); err != nil {
			t.Fatal(err)
		}
	}
	redo() // the crash came before the message was stored
	redo() // after: its answer is regenerated
	ms, _ := stored(t, mem, c, "u1")
	var got []string
	for _, m := range ms {
		got = append(got, m.Content)
	}
	want := []string{"an older question", "an older answer", "a question", "second try"}
	if !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

// A message with an image, redone after a restart (which kept its text,
// not the image), is recognised by its text and not stored twice.
func TestRedoOfAnImageMessageStoresItOnce(t *testing.T) {
	srv := lmstudiotest.New(t, lmstudiotest.Model{Key: "seer", SizeBytes: 3 * gib, ParamsString: "7B", Vision: true, ToolUse: true})
	r := newRouter(t, nil, lmstudio.New(lmstudio.Config{Endpoint: srv.URL}))
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1})
	img := []chat.Image{{MIME: "image/png", Data: png}}
	if err := c.Send(context.Background(), chat.Message{User: "u1", Text: "what is this?", Images: img}, (&events{}).emit); err != nil {
		t.Fatal(err)
	}
	if err := c.Redo(context.Background(), chat.Message{User: "u1", Text: "what is this?"}, (&events{}).emit); err != nil {
		t.Fatal(err)
	}
	ms, _ := stored(t, mem, c, "u1")
	if len(ms) != 2 || ms[0].Content != "what is this?\n[image: image/png, 1 KB]" {
		t.Fatalf("stored %+v, want the message once and one answer", ms)
	}
}
