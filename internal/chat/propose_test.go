package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// proposals records what propose_change sent.
type proposals struct {
	mu  sync.Mutex
	got []chat.ChangeRequest
}

func (p *proposals) ProposeChange(_ context.Context, c chat.ChangeRequest) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, c)
	if strings.Contains(c.Subject, "blocked") {
		return "", fmt.Errorf("the risk analysis BLOCKED the change")
	}
	return "proposal p1 waits for the owner's approval (request abc)", nil
}

// A scripted model asks for a persona change with propose_change: the
// proposer gets the files, the subject and the owner's message that asked;
// the model is told where the proposal stands. Without a proposer the
// tool is not offered.
func TestProposeChangeTool(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	p := &proposals{}
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, Changes: p})
	srv.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "propose_change",
			Arguments: `{"subject":"persona: warmer","rationale":"asked","files":[{"path":"persona.md","content":"You are Mai, and warm.\n"}]}`}}},
		lmstudiotest.Reply{Chunks: []string{"I proposed it."}},
	)
	ev, err := send(t, c, "u1", "please be warmer")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.got) != 1 {
		t.Fatalf("%d proposals", len(p.got))
	}
	got := p.got[0]
	if got.Subject != "persona: warmer" || got.Rationale != "asked" || len(got.Files) != 1 || got.Files[0].Path != "persona.md" ||
		got.Files[0].Content != "You are Mai, and warm.\n" || got.Request != "please be warmer" || got.MessageID == 0 {
		t.Fatalf("%+v", got)
	}
	reqs := srv.ChatRequests()
	var offered bool
	for _, tl := range reqs[0].Tools {
		offered = offered || tl.Function.Name == "propose_change"
	}
	last := reqs[1].Messages[len(reqs[1].Messages)-1]
	if !offered || last.Role != "tool" || !strings.Contains(last.Content, "proposal p1 waits") {
		t.Fatalf("offered %v; tool result %+v", offered, last)
	}
	if !strings.Contains(ev.text(chat.EventTool), "proposal p1 waits") {
		t.Errorf("the owner was not shown the proposal: %q", ev.text(chat.EventTool))
	}

	c2 := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"ok"}})
	if _, err := send(t, c2, "u2", "hello"); err != nil {
		t.Fatal(err)
	}
	reqs = srv.ChatRequests()
	for _, tl := range reqs[len(reqs)-1].Tools {
		if tl.Function.Name == "propose_change" {
			t.Fatal("propose_change offered without a proposer")
		}
	}
}
