package approval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPINStore(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	p := PINStore{Dir: t.TempDir(), Now: c.Now}
	if _, err := p.Check("1234"); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("no PIN stored: %v", err)
	}
	if err := p.Set("123"); !errors.Is(err, ErrShortPIN) {
		t.Fatalf("short PIN: %v", err)
	}
	if err := p.Set("2468"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(p.Dir, PINFile))
	if strings.Contains(string(b), "2468") || !strings.Contains(string(b), `"argon2id"`) {
		t.Fatalf("PIN file: %s", b)
	}
	if fi, _ := os.Stat(filepath.Join(p.Dir, PINFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("PIN file mode %o", fi.Mode().Perm())
	}
	if _, err := p.Check("2468"); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	// Four wrong, then the right one: the count starts again.
	for i := 1; i <= 4; i++ {
		if r, err := p.Check("0000"); !errors.Is(err, ErrWrongPIN) || r.Failures != i || r.Locked {
			t.Fatalf("wrong PIN %d: %+v %v", i, r, err)
		}
	}
	if _, err := p.Check("2468"); err != nil {
		t.Fatalf("right PIN after four wrong: %v", err)
	}
	for i := 1; i <= 5; i++ {
		r, err := p.Check("9999")
		if !errors.Is(err, ErrWrongPIN) || r.Locked != (i == 5) {
			t.Fatalf("wrong PIN %d: %+v %v", i, r, err)
		}
	}
	c.Add(4 * time.Minute)
	if r, err := p.Check("2468"); !errors.Is(err, ErrPINLocked) || !r.LockedUntil.Equal(time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)) {
		t.Fatalf("right PIN during the lock-out: %+v %v", r, err)
	}
	c.Add(time.Minute)
	if _, err := p.Check("2468"); err != nil {
		t.Fatalf("right PIN after the lock-out: %v", err)
	}
	if err := p.Clear(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.Stored(); ok {
		t.Fatal("PIN still stored after Clear")
	}
}
