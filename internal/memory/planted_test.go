package memory

import (
	"context"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/testenv"
)

func TestRecallFindsPlantedFact(t *testing.T) {
	testenv.Short(t, "writes 100,000 messages")
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	c := newCorpus(7)
	c.fill(t, s, "owner", 50_000, now)
	conv := startConv(t, s, "owner")
	planted := appendMsgs(t, s, conv, Message{
		Content: "I keep my passport in the blue drawer under the stairs.",
		Time:    now.Add(-400 * 24 * time.Hour),
	})[0]
	c.fill(t, s, "owner", 50_000, now)
	// Someone else's identical sentence must not be recalled for the owner.
	other := startConv(t, s, "guest")
	appendMsgs(t, s, other, Message{Content: "I keep my passport in the blue drawer under the stairs."})
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM messages WHERE user_id = 'owner'`).Scan(&n); err != nil || n != 100_001 {
		t.Fatalf("corpus: %d messages, %v", n, err)
	}
	tests := []string{
		"where did I put my passport?",
		"Passport drawer",
		`"blue drawer" (stairs*`,
	}
	for _, q := range tests {
		got, err := s.Recall(ctx, "owner", q, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].ID != planted.ID {
			t.Errorf("Recall(%q) = %+v, want message %d first", q, got, planted.ID)
		}
	}
}
