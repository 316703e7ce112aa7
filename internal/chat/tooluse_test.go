package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
)

// Tool calls and their results go back to the model in later turns as
// what they were — the assistant's tool calls and tool messages answering
// them by call id — not as notes; a call that came without an id (as
// Ollama's native API sends them) gets one that pairs it with its result.
func TestToolTurnsGoBackAsToolMessages(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1})
	srv.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{
			{ID: "call-7", Name: "remember", Arguments: `{"statement":"drinks green tea"}`},
			{Name: "recall", Arguments: `{"query":"tea"}`},
		}},
		lmstudiotest.Reply{Chunks: []string{"noted"}},
		lmstudiotest.Reply{Chunks: []string{"fine"}},
	)
	if _, err := send(t, c, "u1", "remember that I drink green tea"); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, c, "u1", "what do I drink?"); err != nil {
		t.Fatal(err)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d chat requests, want 3", len(reqs))
	}
	msgs := reqs[2].Messages // the next turn's
	i := 0
	for i < len(msgs) && len(msgs[i].ToolCalls) == 0 {
		i++
	}
	if i+2 >= len(msgs) {
		t.Fatalf("no assistant tool calls followed by their results in the next turn: %+v", msgs)
	}
	calls := msgs[i].ToolCalls
	if msgs[i].Role != "assistant" || len(calls) != 2 || calls[0].ID != "call-7" || calls[0].Function.Name != "remember" ||
		calls[1].ID == "" || calls[1].Function.Name != "recall" || calls[0].Type != "function" {
		t.Fatalf("tool calls sent back = %+v", msgs[i])
	}
	var args struct{ Statement string }
	if err := json.Unmarshal([]byte(calls[0].Function.Arguments), &args); err != nil || args.Statement != "drinks green tea" {
		t.Errorf("arguments sent back = %q", calls[0].Function.Arguments)
	}
	if m := msgs[i+1]; m.Role != "tool" || m.ToolCallID != "call-7" || m.Content != "remembered" {
		t.Errorf("first result = %+v, want the tool message \"remembered\" answering call-7", m)
	}
	if m := msgs[i+2]; m.Role != "tool" || m.ToolCallID != calls[1].ID || !strings.Contains(m.Content, "tea") {
		t.Errorf("second result = %+v, want the recall answering %s", m, calls[1].ID)
	}
	for _, m := range msgs {
		if m.Role != "tool" && strings.Contains(m.Content, "[tool result]") || m.Role == "assistant" && strings.Contains(m.Content, `"arguments"`) {
			t.Errorf("tool use sent back as text: %+v", m)
		}
	}
	if last := msgs[len(msgs)-1]; last.Role != "user" || last.Content != "what do I drink?" {
		t.Errorf("last message = %+v", last)
	}
}

// Each round of tool use within one answer is assembled afresh within the
// model's window: a big tool result counts against it, so the oldest turns
// give way (folded into a summary) instead of the request outgrowing the
// window with the first round's context plus the results.
func TestToolRoundsReassembleWithinTheWindow(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1})
	ctx := context.Background()
	conv, err := mem.StartConversation(ctx, "u1", "terminal")
	if err != nil {
		t.Fatal(err)
	}
	// Ten turns of 200 characters, about half of the 4096-token window
	// (with no vocabulary, memory counts a token per character); each
	// mentions the zebra, so recalling it brings back a kilobyte.
	var history []memory.Message
	for i := range 10 {
		role := memory.RoleUser
		if i%2 == 1 {
			role = memory.RoleAssistant
		}
		text := fmt.Sprintf("turn %d about the zebra: ", i) + strings.Repeat(fmt.Sprintf("stripes%d grass ", i), 11)
		history = append(history, memory.Message{ConversationID: conv, Role: role, Content: text})
	}
	if _, err := mem.AppendBatch(ctx, history); err != nil {
		t.Fatal(err)
	}
	srv.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "z1", Name: "recall", Arguments: `{"query":"zebra stripes"}`}}},
		lmstudiotest.Reply{Chunks: []string{"zebras have stripes"}},
	)
	ev, err := send(t, c, "u1", "what did we say about the zebra?")
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 2 {
		t.Fatalf("%d chat requests, want 2", len(reqs))
	}
	has := func(msgs []lmstudiotest.ChatMessage, text string) bool {
		for _, m := range msgs {
			if m.Content == text {
				return true
			}
		}
		return false
	}
	oldest := history[0].Content
	if !has(reqs[0].Messages, oldest) {
		t.Fatalf("the first round lacks the oldest turn; the history does not fill the window as planned")
	}
	second := reqs[1].Messages
	if last := second[len(second)-1]; last.Role != "tool" || last.ToolCallID != "z1" || !strings.Contains(last.Content, "zebra") {
		t.Fatalf("the second round does not end with the recall's result: %+v", last)
	}
	if has(second, oldest) {
		t.Error("the second round repeats the first round's context: the oldest turn is still there beside a kilobyte of tool result")
	}
	st := ev.done()
	if st == nil || st.ContextWindow != 4096 || st.ContextTokens > 4096-1024 || st.ToolCalls != 1 {
		t.Errorf("stats = %+v, want the last round's context within 4096 − 1024 reserved tokens", st)
	}
}

// A reply answered from its branch keeps the branch through rounds of tool
// use: the next round gets the reply chain, then the tool call and its
// result, not the conversation's latest turns.
func TestToolRoundsKeepTheBranch(t *testing.T) {
	srv, c, first := twoExchanges(t)
	srv.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "t1", Name: "recall", Arguments: `{"query":"tortoises"}`}}},
		lmstudiotest.Reply{Chunks: []string{"a long time"}},
	)
	ev := &events{}
	if err := c.Send(context.Background(), chat.Message{User: "u1", Text: "how long do they live?", ReplyTo: first.done().AnswerID}, ev.emit); err != nil {
		t.Fatal(err)
	}
	reqs := srv.ChatRequests()
	second := reqs[len(reqs)-1].Messages[1:]
	var got []string
	for _, m := range second {
		if len(m.ToolCalls) > 0 {
			got = append(got, m.Role+":call "+m.ToolCalls[0].ID)
		} else if m.Role == "tool" {
			got = append(got, m.Role+":result "+m.ToolCallID)
		} else {
			got = append(got, m.Role+":"+m.Content)
		}
	}
	want := "user:tell me about tortoises|assistant:You said: tell me about tortoises|user:how long do they live?|assistant:call t1|tool:result t1"
	if strings.Join(got, "|") != want {
		t.Fatalf("the second round got\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if st := ev.done(); st == nil || st.ToolCalls != 1 {
		t.Errorf("stats = %+v", st)
	}
}
