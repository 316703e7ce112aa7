package memory

import (
	"context"
	"fmt"
	"os"
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

// TestBackupsIgnoreUnfinishedCopies: a copy cut short (a crash while an
// older Mai wrote straight to the final name) and a temporary copy neither
// count as the newest backup nor push a complete one out of the rotation.
func TestBackupsIgnoreUnfinishedCopies(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	s := New(db, Options{})
	conv := startConv(t, s, "u")
	for i := range 200 {
		appendMsgs(t, s, conv, Message{Content: fmt.Sprintf("message %d with enough words to fill a few pages of the file", i)})
	}
	dir := filepath.Join(t.TempDir(), "backups")
	t1 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	good, err := BackupRotate(ctx, db, dir, 2, t1)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, backupName(t1.Add(24*time.Hour)))
	if err := os.WriteFile(cut, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	staleTmp := filepath.Join(dir, store.TempBackupPrefix+backupName(t1.Add(-48*time.Hour))+".1")
	freshTmp := filepath.Join(dir, store.TempBackupPrefix+backupName(t1.Add(48*time.Hour))+".2")
	for _, p := range []string{staleTmp, freshTmp} {
		if err := os.WriteFile(p, whole[:4096], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(staleTmp, t1.Add(-48*time.Hour), t1.Add(-48*time.Hour))
	os.Chtimes(freshTmp, t1.Add(71*time.Hour), t1.Add(71*time.Hour))
	if got, err := LatestBackup(dir); err != nil || !got.Equal(t1) {
		t.Fatalf("LatestBackup = %v, %v; want %v (the cut copy is not a backup)", got, err, t1)
	}
	t3 := t1.Add(72 * time.Hour)
	newest, err := BackupRotate(ctx, db, dir, 2, t3)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{good, newest, cut, freshTmp} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v (keep 2 complete copies; leave what is not a backup)", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(staleTmp); !os.IsNotExist(err) {
		t.Errorf("a day-old temporary copy is still there: %v", err)
	}
	if got, err := LatestBackup(dir); err != nil || !got.Equal(t3) {
		t.Errorf("LatestBackup = %v, %v; want %v", got, err, t3)
	}
}

// TestManualBackupsStayOutOfTheRotation: a manual copy neither delays the
// daily one nor is pruned by it.
func TestManualBackupsStayOutOfTheRotation(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	dir := filepath.Join(t.TempDir(), "backups")
	t1 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	manual := ManualBackupPath(dir, t1.Add(time.Hour))
	if err := os.MkdirAll(filepath.Dir(manual), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Backup(ctx, manual); err != nil {
		t.Fatal(err)
	}
	if got, err := LatestBackup(dir); err != nil || !got.IsZero() {
		t.Fatalf("LatestBackup with only a manual copy = %v, %v; want none", got, err)
	}
	for i := range 3 {
		if _, err := BackupRotate(ctx, db, dir, 1, t1.Add(time.Duration(i)*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckBackup(ctx, manual); err != nil {
		t.Errorf("the manual copy: %v", err)
	}
}
