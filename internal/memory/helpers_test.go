package memory

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func openDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newStore(t testing.TB, o Options) *Store {
	t.Helper()
	return New(openDB(t), o)
}

func startConv(t testing.TB, s *Store, user string) int64 {
	t.Helper()
	id, err := s.StartConversation(context.Background(), user, "test")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func appendMsgs(t testing.TB, s *Store, conv int64, ms ...Message) []Message {
	t.Helper()
	for i := range ms {
		ms[i].ConversationID = conv
		if ms[i].Role == "" {
			ms[i].Role = RoleUser
		}
	}
	out, err := s.AppendBatch(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
