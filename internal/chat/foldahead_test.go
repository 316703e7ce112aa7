package chat_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
)

// With FoldAhead, old turns that the next exchange would crowd out are
// folded once the answer is stored, not before the next answer: the
// answer was sent with every turn, and the fold is there when Send
// returns. Without it, nothing is folded until an assembly needs it.
func TestFoldAheadAfterTheAnswer(t *testing.T) {
	for _, ahead := range []bool{true, false} {
		t.Run(fmt.Sprint("ahead=", ahead), func(t *testing.T) {
			srv, r := fakeLMStudio(t)
			mem := openMemory(t, dbPath(t))
			c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1, FoldAhead: ahead})
			ctx := context.Background()
			conv, err := mem.StartConversation(ctx, "u1", "terminal")
			if err != nil {
				t.Fatal(err)
			}
			history := []memory.Message{
				{ConversationID: conv, Role: memory.RoleUser, Content: "tell me a long story"},
				{ConversationID: conv, Role: memory.RoleAssistant, Content: "once upon a time"},
			}
			if _, err := mem.AppendBatch(ctx, history); err != nil {
				t.Fatal(err)
			}
			// An answer of 16,000 chunks, a token each as the fake counts
			// them (over 4,000 as memory calibrates its estimate on the
			// fake's counts): one more exchange that long would not fit in
			// the 4096-token window beside it.
			chunks := make([]string, 16000)
			for i := range chunks {
				chunks[i] = "more "
			}
			srv.Script(lmstudiotest.Reply{Chunks: chunks})
			ev := &events{}
			if err := c.Send(ctx, chat.Message{User: "u1", Text: "and then?", MaxTokens: len(chunks)}, ev.emit); err != nil {
				t.Fatal(err)
			}
			reqs := srv.ChatRequests()
			if len(reqs) != 1 {
				t.Fatalf("%d chat requests, want the answer's alone", len(reqs))
			}
			sent := false
			for _, m := range reqs[0].Messages {
				sent = sent || m.Content == history[0].Content
			}
			if !sent {
				t.Fatal("the answer was sent without the oldest turn: a fold came before it")
			}
			var folds int
			if err := mem.DB().QueryRow(`SELECT count(*) FROM summaries WHERE tier = 'fold' AND conversation_id = ?`, conv).Scan(&folds); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[ahead]; folds != want {
				t.Fatalf("%d folds once Send returned, want %d", folds, want)
			}
		})
	}
}
