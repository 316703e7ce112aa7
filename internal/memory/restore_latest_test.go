package memory

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

func TestLatestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if got, err := LatestBackup(filepath.Join(dir, "none")); err != nil || !got.IsZero() {
		t.Fatalf("no backups: %v %v", got, err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t1 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	t2 := t1.Add(48 * time.Hour)
	for _, at := range []time.Time{t2, t1} {
		if _, err := BackupRotate(ctx, db, filepath.Join(dir, "backups"), 7, at); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := LatestBackup(filepath.Join(dir, "backups")); err != nil || !got.Equal(t2) {
		t.Errorf("LatestBackup = %v %v, want %v", got, err, t2)
	}
}
