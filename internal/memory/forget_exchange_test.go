package memory

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maicompanion/mai/internal/store"
)

// Forgetting one exchange in the middle of a conversation takes its
// messages, tool turns, index entries, vectors and the fold that quotes
// it out of the database files, and leaves the exchanges around it.
func TestForgetMessagesForReal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(db, Options{})
	conv := startConv(t, s, "u")
	ms := appendMsgs(t, s, conv,
		Message{Content: "tell me about lighthouses"},
		Message{Role: RoleAssistant, Content: "lighthouses guide ships"},
		Message{Content: "what does a xylophonist play"},
	)
	call, err := s.AppendTurn(ctx, Message{ConversationID: conv, Role: RoleAssistant, Content: `{"name":"search"}`}, TurnDetail{Kind: TurnToolCall, ToolName: "search"})
	if err != nil {
		t.Fatal(err)
	}
	result, err := s.AppendTurn(ctx, Message{ConversationID: conv, Role: RoleTool, Content: "marimbaphone results"}, TurnDetail{Kind: TurnToolResult, ToolName: "search"})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := s.AppendTurn(ctx, Message{ConversationID: conv, Role: RoleAssistant, Content: "a xylophonist plays the xylophone"}, TurnDetail{Kind: TurnAnswer})
	if err != nil {
		t.Fatal(err)
	}
	later := appendMsgs(t, s, conv,
		Message{Content: "and volcanoes?"},
		Message{Role: RoleAssistant, Content: "volcanoes erupt"},
	)
	all := []int64{ms[0].ID, ms[1].ID, ms[2].ID, call.ID, result.ID, answer.ID, later[0].ID, later[1].ID}
	for i, id := range all {
		if err := s.SetEmbedding(ctx, id, "emb", []float32{1, float32(i), 0.5}); err != nil {
			t.Fatal(err)
		}
	}
	// A fold that quotes the exchange (extractive folds copy sentences).
	if _, err := db.ExecContext(ctx, `INSERT INTO summaries (user_id, conversation_id, tier, first_message_id, last_message_id, from_ms, to_ms, content, tokens, created_ms)
		VALUES ('u', ?, 'fold', ?, ?, 0, 0, 'lighthouses; what does a xylophonist play', 9, 0)`, conv, ms[0].ID, answer.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.vectorIndexFor(ctx, "u", "emb", 3); err != nil { // loaded before the forget
		t.Fatal(err)
	}

	gone := []int64{ms[2].ID, call.ID, result.ID, answer.ID}
	r, err := s.ForgetMessages(ctx, conv, gone)
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages != 4 || r.Summaries != 1 {
		t.Errorf("report %+v, want 4 messages and 1 summary", r)
	}
	left, err := s.Messages(ctx, conv, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range left {
		ids = append(ids, m.ID)
	}
	if want := []int64{ms[0].ID, ms[1].ID, later[0].ID, later[1].ID}; !slices.Equal(ids, want) {
		t.Errorf("messages left %v, want %v", ids, want)
	}
	for _, word := range []string{"xylophonist", "marimbaphone"} {
		rs, err := s.Recall(ctx, "u", word, 5)
		if err != nil || len(rs) != 0 {
			t.Errorf("recall of %q after the forget: %+v, %v", word, rs, err)
		}
	}
	if rs, err := s.Recall(ctx, "u", "volcanoes", 5); err != nil || len(rs) == 0 {
		t.Errorf("recall of a later exchange: %+v, %v", rs, err)
	}
	var n int
	for q, want := range map[string]int{
		`SELECT count(*) FROM embeddings`:                                          4,
		`SELECT count(*) FROM turn_details`:                                        0,
		`SELECT count(*) FROM summaries`:                                           0,
		`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'xylophonist'`: 0,
		`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'lighthouses'`: 2,
	} {
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil || n != want {
			t.Errorf("%s = %d (%v), want %d", q, n, err, want)
		}
	}
	ix, err := s.vectorIndexFor(ctx, "u", "emb", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range gone {
		if _, ok := ix.pos[id]; ok {
			t.Errorf("message %d still has a vector in the loaded index", id)
		}
	}
	if len(ix.ids) != 4 {
		t.Errorf("%d vectors loaded, want 4", len(ix.ids))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("volcanoes erupt")) {
		t.Error("the file check reads the wrong file: a kept message is not in it")
	}
	for _, word := range []string{"xylophonist", "marimbaphone"} {
		if bytes.Contains(data, []byte(word)) {
			t.Errorf("%q is still in the database file", word)
		}
	}
	if _, err := s.ForgetMessages(ctx, conv, gone); !errors.Is(err, ErrNotFound) {
		t.Errorf("forgetting again: %v, want ErrNotFound", err)
	}
}
