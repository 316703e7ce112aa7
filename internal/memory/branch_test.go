package memory

import (
	"context"
	"strings"
	"testing"
)

// contents lists the turns' texts after the system turn.
func turnTexts(c Context) []string {
	var out []string
	for _, t := range c.Turns[1:] {
		out = append(out, string(t.Role)+":"+t.Content)
	}
	return out
}

func TestAssembleBranchIsTheReplyChain(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	conv := startConv(t, s, "u")
	// A first exchange, then a second one that the owner leaves behind
	// by replying to the first answer; the reply continues from there.
	ms := appendMsgs(t, s, conv,
		Message{Role: RoleUser, Content: "tell me about tortoises"},
		Message{Role: RoleAssistant, Content: "tortoises live long"},
		Message{Role: RoleUser, Content: "now about volcanoes"},
		Message{Role: RoleAssistant, Content: "volcanoes erupt"},
	)
	reply := appendMsgs(t, s, conv, Message{Role: RoleUser, Content: "how long exactly?", ReplyTo: ms[1].ID})[0]
	answer := appendMsgs(t, s, conv, Message{Role: RoleAssistant, Content: "over a century", ReplyTo: reply.ID})[0]
	again := appendMsgs(t, s, conv, Message{Role: RoleUser, Content: "and the oldest?", ReplyTo: answer.ID})[0]

	branch, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: "P", Window: 4096, Branch: again.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user:tell me about tortoises", "assistant:tortoises live long", "user:how long exactly?", "assistant:over a century", "user:and the oldest?"}
	if got := turnTexts(branch); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("branch turns %q\nwant %q", got, want)
	}
	// Without a branch the context is the conversation's tail, volcanoes included.
	tail, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: "P", Window: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if got := turnTexts(tail); len(got) != 7 || got[2] != "user:now about volcanoes" {
		t.Fatalf("tail turns %q", got)
	}
}

func TestBranchIsBounded(t *testing.T) {
	s := newStore(t, Options{})
	conv := startConv(t, s, "u")
	var last Message
	for i := range MaxBranch + 10 {
		last = appendMsgs(t, s, conv, Message{Role: RoleUser, Content: "message " + string(rune('a'+i%26))})[0]
	}
	ms, err := s.Branch(context.Background(), last.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != MaxBranch || ms[len(ms)-1].ID != last.ID || ms[0].ID != last.ID-MaxBranch+1 {
		t.Fatalf("%d messages from %d to %d, want the last %d", len(ms), ms[0].ID, ms[len(ms)-1].ID, MaxBranch)
	}
	if _, err := s.Branch(context.Background(), last.ID+100, 0); err == nil {
		t.Fatal("a branch of a message that does not exist")
	}
}
