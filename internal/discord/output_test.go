package discord

import (
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/discord/discordtest"
)

func TestSandboxOutputShownInTheReply(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	chat := &scriptChat{events: []Event{
		{Kind: EventTool, Text: "ran python: exit 0 in 0.4s", Output: "42\n"},
		{Kind: EventText, Text: "It is 42."},
	}, pause: 20 * time.Millisecond}
	startBot(t, fake, db, chat, Options{EditInterval: 100 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "run it")
	want := "-# 🔧 ran python: exit 0 in 0.4s\n```\n42\n```\nIt is 42."
	waitFor(t, "the reply with the output", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && m[0].Content == want
	})
}

func TestLongSandboxOutputComesAsAFile(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	var out strings.Builder
	for i := 0; out.Len() < 5000; i++ {
		out.WriteString("line of output\n")
	}
	chat := &scriptChat{events: []Event{
		{Kind: EventTool, Text: "ran shell: exit 0", Output: out.String()},
		{Kind: EventText, Text: "Done."},
	}, pause: 20 * time.Millisecond}
	b := startBot(t, fake, db, chat, Options{EditInterval: 100 * time.Millisecond})
	ch := fake.DMChannel(ownerID)
	fake.SendDM(ownerID, "run it")
	waitFor(t, "the reply", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 2 && strings.HasSuffix(m[1].Content, "Done.")
	})
	flush(t, b.Outbox(), 10*time.Second)
	m := fake.BotMessages(ch)
	if len(m[0].Attachments) != 1 || m[0].Attachments[0].Filename != "output.txt" || m[0].Attachments[0].Size != out.Len() {
		t.Fatalf("first message %q with attachments %+v, want output.txt of %d bytes", m[0].Content, m[0].Attachments, out.Len())
	}
	var sent []byte
	for _, c := range fake.Calls() {
		if d, ok := c.Files["output.txt"]; ok {
			sent = d
		}
	}
	if string(sent) != out.String() {
		t.Fatalf("the attachment holds %d bytes, want the whole output (%d)", len(sent), out.Len())
	}
	// The reply shows the start of the output, cut, in one code block.
	reply := m[1].Content
	if len(reply) > 2000 || !strings.Contains(reply, "```\nline of output\n") || !strings.Contains(reply, "\n…\n```\nDone.") {
		t.Fatalf("reply = %q", reply)
	}
}

func TestToolOutputTranslated(t *testing.T) {
	e, ok := fromChatEvent(chat.Event{Kind: chat.EventTool, Tool: &chat.ToolActivity{Name: "run_code", Status: "done", Line: "ran python: exit 0", Output: "hi\n"}})
	if !ok || e.Kind != EventTool || e.Text != "ran python: exit 0" || e.Output != "hi\n" {
		t.Fatalf("got %+v, %v", e, ok)
	}
}

func TestKeptMessagesOnlyWhenTheContextWasCut(t *testing.T) {
	for _, c := range []struct {
		recent, summaries, want int
	}{{5, 0, 0}, {5, 2, 5}} {
		e, _ := fromChatEvent(chat.Event{Kind: chat.EventDone, Stats: &chat.Stats{Model: "m", RecentTurns: c.recent, Summaries: c.summaries}})
		if e.Stats.KeptMessages != c.want {
			t.Errorf("recent %d, summaries %d: kept %d, want %d", c.recent, c.summaries, e.Stats.KeptMessages, c.want)
		}
	}
}
