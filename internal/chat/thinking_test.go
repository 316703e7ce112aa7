package chat_test

import (
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// A reasoning model's reasoning content (a separate field, not <think>
// tags) is shown as one "thinking…" status, or as text with ShowThinking,
// and never becomes part of the answer, of memory or of the next context.
func TestReasoningContentStaysOutOfTheAnswer(t *testing.T) {
	for _, show := range []bool{false, true} {
		srv, r := fakeLMStudio(t)
		mem := openMemory(t, dbPath(t))
		c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, ShowThinking: show})
		srv.Script(lmstudiotest.Reply{Reasoning: []string{"The owner", " says hello."}, Chunks: []string{"Hello", " there"}},
			lmstudiotest.Reply{Chunks: []string{"fine"}})
		ev, err := send(t, c, "u1", "hi Mai")
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.text(chat.EventText); got != "Hello there" {
			t.Errorf("show=%v: answer streamed %q", show, got)
		}
		var thinking []string
		for _, e := range ev.evs {
			if e.Kind == chat.EventThinking {
				thinking = append(thinking, e.Text)
			}
		}
		want := []string{""} // one status line
		if show {
			want = []string{"The owner", " says hello."}
		}
		if strings.Join(thinking, "|") != strings.Join(want, "|") || len(thinking) != len(want) {
			t.Errorf("show=%v: thinking events %q, want %q", show, thinking, want)
		}
		ms, _ := stored(t, mem, c, "u1")
		if len(ms) != 2 || ms[1].Content != "Hello there" {
			t.Errorf("show=%v: stored %+v", show, ms)
		}
		if _, err := send(t, c, "u1", "how are you?"); err != nil {
			t.Fatal(err)
		}
		reqs := srv.ChatRequests()
		for _, m := range reqs[len(reqs)-1].Messages {
			if strings.Contains(m.Content, "says hello") {
				t.Errorf("show=%v: the thinking reached the next context: %q", show, m.Content)
			}
		}
	}
}
