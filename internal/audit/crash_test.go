package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/store"
)

const childVar = "MAI_AUDIT_TEST_CHILD"

// TestMain lets the test binary act as a process that appends and is then
// killed before it writes the anchor.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childVar); dir != "" {
		appendThenHang(dir)
		return
	}
	os.Exit(m.Run())
}

// appendThenHang appends one entry (anchored at once), then four more whose
// anchor write is due only an hour later, says so, and waits to be killed.
func appendThenHang(dir string) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "mai.db"), store.Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	l, err := Open(ctx, db.DB, Options{Dir: dir, AnchorInterval: time.Hour})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for i := 1; i <= 5; i++ {
		if _, err := l.Append(ctx, Record{Actor: "mai", Action: "test.child", Subject: fmt.Sprint(i)}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	fmt.Println("appended 5")
	select {}
}

func TestCrashBetweenAppendAndAnchorIsRecovered(t *testing.T) {
	dir := t.TempDir()
	// The database exists and is migrated before the child starts.
	db, err := store.Open(context.Background(), filepath.Join(dir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childVar+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "appended 5" {
		t.Fatalf("child said %q", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	a, err := readAnchor(dir)
	if err != nil || a == nil || a.Seq != 1 {
		t.Fatalf("the child died with the anchor at %+v (%v); want entry 1, the crash window", a, err)
	}
	l, err := Open(context.Background(), db.DB, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep := verify(t, l)
	if !rep.OK || rep.Entries != 5 || rep.Anchor.Seq != 5 || rep.Unanchored != 0 {
		t.Fatalf("after the next start: %+v %+v", rep, rep.Problem)
	}
}

// A crash during the very first batch leaves the empty log's anchor (seq
// 0) behind entries that chain onto it: recovered, no false alarm. A log
// whose anchor is simply gone is not "recovered".
func TestCrashInTheFirstBatchIsRecovered(t *testing.T) {
	d := newDataDir(t)
	l := d.open(t)
	genesis, err := os.ReadFile(filepath.Join(d.dir, AnchorFile))
	if err != nil {
		t.Fatalf("no anchor at first start: %v", err)
	}
	l.Close()
	d.fill(t, 5)
	if err := os.WriteFile(filepath.Join(d.dir, AnchorFile), genesis, 0o600); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, d.open(t))
	if !rep.OK || rep.Anchor.Seq != 5 {
		t.Fatalf("%+v %+v", rep, rep.Problem)
	}
	os.Remove(filepath.Join(d.dir, AnchorFile))
	if rep := verify(t, d.open(t)); rep.OK || rep.Problem.Kind != KindAnchor {
		t.Fatalf("a deleted anchor was recreated: %+v", rep)
	}
}
