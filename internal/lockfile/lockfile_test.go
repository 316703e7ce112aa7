package lockfile

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestAcquireExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.pid")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if !Held(path) {
		t.Error("Held = false while held")
	}
	if pid, ok := Holder(path); !ok || pid != os.Getpid() {
		t.Errorf("Holder = %d %v", pid, ok)
	}
	if _, err := Acquire(path); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}
	l.Release()
	if Held(path) {
		t.Error("Held = true after release")
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("re-acquire: %v", err)
	}
	l2.Release()
}

// A lock held by a process that died is free again: flock dies with it.
func TestLockDiesWithProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.pid")
	cmd := exec.Command(os.Args[0], "-test.run=TestHelperHoldLock")
	cmd.Env = append(os.Environ(), "MAI_LOCK_HELPER="+path)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "held" {
		t.Fatalf("helper did not take the lock: %q %v", buf, err)
	}
	if _, err := Acquire(path); !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire while another process holds it: %v", err)
	}
	cmd.Process.Kill() // SIGKILL: no chance to release
	cmd.Wait()
	l, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	l.Release()
}

func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("MAI_LOCK_HELPER")
	if path == "" {
		return // only runs as the helper process above
	}
	if _, err := Acquire(path); err != nil {
		os.Exit(3)
	}
	os.Stdout.WriteString("held")
	time.Sleep(time.Minute)
	os.Exit(0)
}
