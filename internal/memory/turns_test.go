package memory

import (
	"context"
	"testing"
)

// The terminal's history (LocalUser) joins the owner's: conversations,
// messages, recall and facts move, a fact both have is kept once, and
// LocalUser is gone. Merging again moves nothing.
func TestMergeUser(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	local := startConv(t, s, LocalUser)
	appendMsgs(t, s, local, Message{Role: RoleUser, Content: "my tortoise is called Bartholomew"})
	owner := startConv(t, s, "1234")
	appendMsgs(t, s, owner, Message{Role: RoleUser, Content: "hello from Discord"})
	for _, u := range []string{LocalUser, "1234"} {
		if _, err := s.Remember(ctx, Fact{User: u, Statement: "likes tea"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remember(ctx, Fact{User: LocalUser, Statement: "lives in Lyon"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.MergeUser(ctx, LocalUser, "1234")
	if err != nil || n != 1 {
		t.Fatalf("MergeUser = %d, %v", n, err)
	}
	got, err := s.Recall(ctx, "1234", "Bartholomew", 5)
	if err != nil || len(got) != 1 || got[0].ConversationID != local {
		t.Errorf("recall as the owner = %+v, %v", got, err)
	}
	fs, _ := s.Facts(ctx, "1234")
	if len(fs) != 2 {
		t.Errorf("owner's facts = %+v", fs)
	}
	if c, err := s.LatestConversation(ctx, LocalUser); err == nil {
		t.Errorf("LocalUser still has conversation %d", c.ID)
	}
	if n, err := s.MergeUser(ctx, LocalUser, "1234"); err != nil || n != 0 {
		t.Errorf("second merge = %d, %v", n, err)
	}
}

// Turn details go with their message: stored together, read back, and
// deleted when the conversation is forgotten.
func TestTurnDetailsAndForgetConversation(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{})
	conv := startConv(t, s, "u")
	m, err := s.AppendTurn(ctx, Message{ConversationID: conv, Role: RoleAssistant, Content: "an answer", Model: "m"},
		TurnDetail{Kind: TurnAnswer, CompletionTokens: 7, FailedOver: true, ContextTokens: 100, ContextWindow: 4096})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.TurnDetails(ctx, conv)
	if d := ds[m.ID]; err != nil || d.CompletionTokens != 7 || !d.FailedOver || d.ContextWindow != 4096 {
		t.Fatalf("details = %+v, %v", ds, err)
	}
	r, err := s.ForgetConversation(ctx, conv)
	if err != nil || r.Messages != 1 {
		t.Fatalf("ForgetConversation = %+v, %v", r, err)
	}
	var left int
	s.DB().QueryRowContext(ctx, `SELECT count(*) FROM turn_details`).Scan(&left)
	if left != 0 {
		t.Errorf("%d turn details outlived their messages", left)
	}
	if _, err := s.ForgetConversation(ctx, conv); err == nil {
		t.Error("forgetting a forgotten conversation succeeded")
	}
}
