package switchlog

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
)

func TestRecordRecentPin(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mai.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := New(db.DB)
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	for i, to := range []string{"ollama:a", "ollama:b", "lmstudio:c"} {
		s := router.Switch{At: t0.Add(time.Duration(i) * time.Minute), To: to, Cause: router.CauseFailure, Reason: "reason " + to}
		if i > 0 {
			s.From = "x"
		}
		if err := l.Record(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Recent(ctx, 2)
	if err != nil || len(got) != 2 || got[0].To != "ollama:b" || got[1].To != "lmstudio:c" || !got[1].At.Equal(t0.Add(2*time.Minute)) || got[1].Cause != router.CauseFailure {
		t.Fatalf("Recent = %+v, %v", got, err)
	}
	if ref, err := l.Pinned(ctx); err != nil || ref != "" {
		t.Fatalf("Pinned before pinning = %q %v", ref, err)
	}
	l.Pin(ctx, "ollama:a")
	l.Pin(ctx, "ollama:b")
	db.Close()

	// Both survive a restart.
	db, err = store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l = New(db.DB)
	if ref, _ := l.Pinned(ctx); ref != "ollama:b" {
		t.Errorf("Pinned after restart = %q", ref)
	}
	if all, _ := l.Recent(ctx, 10); len(all) != 3 || all[0].From != "" {
		t.Errorf("Recent after restart = %+v", all)
	}
	l.Pin(ctx, "")
	if ref, _ := l.Pinned(ctx); ref != "" {
		t.Errorf("Pinned after clearing = %q", ref)
	}
}
