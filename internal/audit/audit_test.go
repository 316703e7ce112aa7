package audit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFreshLogVerifiesAndKeyIsPrivate(t *testing.T) {
	d := newDataDir(t)
	l := d.open(t)
	if rep := verify(t, l); !rep.OK || rep.Entries != 0 {
		t.Fatalf("fresh log: %+v", rep)
	}
	fi, err := os.Stat(filepath.Join(d.dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	e, err := l.Append(context.Background(), Record{Actor: "local", Action: "pin.set", Subject: "pin"}, Record{Actor: "mai", Action: "sandbox.run", Subject: "j1", Details: map[string]any{"exit": 0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(e) != 2 || e[0].Seq != 1 || e[1].Seq != 2 || e[1].PrevHash != e[0].Hash || string(e[0].Details) != "{}" {
		t.Fatalf("entries: %+v", e)
	}
	// The first batch is anchored at once.
	a, _ := readAnchor(d.dir)
	if a == nil || a.Seq != 2 || a.Hash != e[1].Hash {
		t.Fatalf("anchor after the first batch: %+v", a)
	}
	if rep := verify(t, l); !rep.OK || rep.Entries != 2 || rep.Unanchored != 0 {
		t.Fatalf("after two entries: %+v", rep)
	}
	key, _ := os.ReadFile(filepath.Join(d.dir, KeyFile))
	for _, q := range []string{`SELECT group_concat(details || subject || actor) FROM audit_log`, `SELECT group_concat(value) FROM meta`} {
		var s string
		d.db.QueryRow(q).Scan(&s)
		if strings.Contains(s, strings.TrimSpace(string(key))) {
			t.Fatal("the key is in the database")
		}
	}
}

// Each kind of tampering, done directly on the database or the anchor file
// of a closed log, is caught at the next start and names the right entry.
func TestTamperingIsDetected(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, d *dataDir)
		wantSeq  int64
		wantKind string
	}{
		{"edit a subject", func(t *testing.T, d *dataDir) {
			d.exec(t, `UPDATE audit_log SET subject = 'someone else' WHERE seq = 4`)
		}, 4, KindEdited},
		{"edit the details", func(t *testing.T, d *dataDir) {
			d.exec(t, `UPDATE audit_log SET details = '{"i":99}' WHERE seq = 9`)
		}, 9, KindEdited},
		{"edit the time", func(t *testing.T, d *dataDir) {
			d.exec(t, `UPDATE audit_log SET at = '2020-01-01T00:00:00.000000000Z' WHERE seq = 1`)
		}, 1, KindEdited},
		{"delete a row", func(t *testing.T, d *dataDir) {
			d.exec(t, `DELETE FROM audit_log WHERE seq = 6`)
		}, 6, KindMissing},
		{"swap two rows", func(t *testing.T, d *dataDir) {
			d.exec(t, `UPDATE audit_log SET seq = -1 WHERE seq = 3`)
			d.exec(t, `UPDATE audit_log SET seq = 3 WHERE seq = 7`)
			d.exec(t, `UPDATE audit_log SET seq = 7 WHERE seq = -1`)
		}, 3, KindEdited},
		{"insert a forged row in the middle", func(t *testing.T, d *dataDir) {
			d.exec(t, `UPDATE audit_log SET seq = -seq WHERE seq >= 5`)
			d.exec(t, `UPDATE audit_log SET seq = 1 - seq WHERE seq < 0`)
			d.exec(t, `INSERT INTO audit_log SELECT 5, at, 'local', 'pin.clear', 'pin', '{}', hash, randomblob(32) FROM audit_log WHERE seq = 4`)
		}, 5, KindEdited},
		{"append a forged row", func(t *testing.T, d *dataDir) {
			d.exec(t, `INSERT INTO audit_log SELECT 11, at, 'local', 'pin.clear', 'pin', '{}', hash, randomblob(32) FROM audit_log WHERE seq = 10`)
		}, 11, KindEdited},
		{"cut off the last 3 rows", func(t *testing.T, d *dataDir) {
			d.exec(t, `DELETE FROM audit_log WHERE seq > 7`)
		}, 8, KindTruncated},
		{"cut off every row", func(t *testing.T, d *dataDir) {
			d.exec(t, `DELETE FROM audit_log`)
		}, 1, KindTruncated},
		{"replace the anchor with a made-up one", func(t *testing.T, d *dataDir) {
			d.exec(t, `DELETE FROM audit_log WHERE seq > 7`)
			var a Anchor
			b, _ := os.ReadFile(filepath.Join(d.dir, AnchorFile))
			json.Unmarshal(b, &a)
			var hash []byte
			d.db.QueryRow(`SELECT hash FROM audit_log WHERE seq = 7`).Scan(&hash)
			a.Seq, a.Hash = 7, hexString(hash)
			b, _ = json.Marshal(a)
			os.WriteFile(filepath.Join(d.dir, AnchorFile), b, 0o600)
		}, 0, KindAnchor},
		{"replace the anchor with another log's", func(t *testing.T, d *dataDir) {
			other := newDataDir(t)
			other.fill(t, 12)
			b, _ := os.ReadFile(filepath.Join(other.dir, AnchorFile))
			os.WriteFile(filepath.Join(d.dir, AnchorFile), b, 0o600)
		}, 0, KindAnchor},
		{"delete the anchor", func(t *testing.T, d *dataDir) {
			os.Remove(filepath.Join(d.dir, AnchorFile))
		}, 0, KindAnchor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDataDir(t)
			d.fill(t, 10)
			if rep := verify(t, d.open(t)); !rep.OK {
				t.Fatalf("before tampering: %+v", rep.Problem)
			}
			tt.tamper(t, d)
			l := d.open(t) // the next start must not hide anything
			rep := verify(t, l)
			if rep.OK || rep.Problem == nil || rep.Problem.Seq != tt.wantSeq || rep.Problem.Kind != tt.wantKind {
				t.Fatalf("report %+v, problem %+v; want entry %d, %s", rep, rep.Problem, tt.wantSeq, tt.wantKind)
			}
			// Nor do later appends.
			if _, err := l.Append(context.Background(), Record{Actor: "mai", Action: "test.after", Subject: "x"}); err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if rep := verify(t, l); rep.OK {
				t.Fatalf("an append after the tampering hid it: %+v", rep)
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// Entries appended after the anchor was last written (the one-second
// window) verify, as long as they chain onto it.
func TestEntriesNewerThanTheAnchorChainOntoIt(t *testing.T) {
	d := newDataDir(t)
	l, err := Open(context.Background(), d.db.DB, Options{Dir: d.dir, AnchorInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 5 {
		if _, err := l.Append(context.Background(), Record{Actor: "mai", Action: "test.step"}); err != nil {
			t.Fatal(err)
		}
	}
	rep := verify(t, l)
	if !rep.OK || rep.Anchor.Seq != 1 || rep.Unanchored != 4 {
		t.Fatalf("%+v", rep)
	}
	// The entries after the anchor are checked: an edit there is caught.
	d.exec(t, `UPDATE audit_log SET actor = 'x' WHERE seq = 3`)
	if rep := verify(t, l); rep.OK || rep.Problem.Seq != 3 {
		t.Fatalf("%+v", rep.Problem)
	}
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	d := newDataDir(t)
	first := d.open(t)
	// A second database handle and Log stand for another process (the CLI
	// while the daemon runs): its own connections, its own mutex.
	second, err := Open(context.Background(), openDB(t, d.dir).DB, Options{Dir: d.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		l := first
		if w%2 == 1 {
			l = second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := l.Append(context.Background(), Record{Actor: "mai", Action: "test.concurrent", Details: map[string]int{"w": w, "i": i}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := errors.Join(first.Flush(), second.Flush()); err != nil {
		t.Fatal(err)
	}
	rep := verify(t, first)
	if !rep.OK || rep.Entries != workers*each || rep.LastSeq != workers*each {
		t.Fatalf("%+v %+v", rep, rep.Problem)
	}
}

func TestKeyProblemsAreNotTampering(t *testing.T) {
	d := newDataDir(t)
	d.fill(t, 3)
	keyPath := filepath.Join(d.dir, KeyFile)
	key, _ := os.ReadFile(keyPath)

	os.Remove(keyPath)
	if _, err := Open(context.Background(), d.db.DB, Options{Dir: d.dir}); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Fatal("a new key was made for a log that has entries")
	}
	os.WriteFile(keyPath, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	if _, err := Open(context.Background(), d.db.DB, Options{Dir: d.dir}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	os.WriteFile(keyPath, key, 0o644)
	os.Chmod(keyPath, 0o644)
	if _, err := Open(context.Background(), d.db.DB, Options{Dir: d.dir}); !errors.Is(err, ErrKeyUnsafe) {
		t.Fatalf("key readable by others: %v", err)
	}
	os.Chmod(keyPath, 0o600)
	if rep := verify(t, d.open(t)); !rep.OK || rep.Entries != 3 {
		t.Fatalf("with the right key back: %+v", rep)
	}
}

func TestReanchorAcceptsARestoredLogOnly(t *testing.T) {
	d := newDataDir(t)
	d.fill(t, 10)
	d.exec(t, `DELETE FROM audit_log WHERE seq > 6`) // as a restored older backup would be
	l := d.open(t)
	if rep := verify(t, l); rep.OK {
		t.Fatal("truncation not seen")
	}
	e, err := l.Reanchor(context.Background(), "local", "database restored")
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 7 || !strings.Contains(string(e.Details), `"previous_anchor_seq":10`) {
		t.Fatalf("reanchor entry: %+v", e)
	}
	if rep := verify(t, l); !rep.OK || rep.Anchor.Seq != 7 {
		t.Fatalf("after reanchor: %+v %+v", rep, rep.Problem)
	}
	d.exec(t, `UPDATE audit_log SET actor = 'x' WHERE seq = 2`)
	if _, err := l.Reanchor(context.Background(), "local", "again"); !errors.Is(err, ErrTampered) {
		t.Fatalf("reanchor over an edited chain: %v", err)
	}
}

func TestList(t *testing.T) {
	d := newDataDir(t)
	l := d.open(t)
	ctx := context.Background()
	for _, a := range []string{"approval.request", "approval.approve", "sandbox.run", "approvals.other", "approval.request"} {
		if _, err := l.Append(ctx, Record{Actor: "local", Action: a, Subject: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := List(ctx, d.db.DB, Filter{Action: "approval"})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, e := range got {
		seqs = append(seqs, e.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 5 {
		t.Errorf("--action approval: %v", seqs)
	}
	got, _ = List(ctx, d.db.DB, Filter{Limit: 2})
	if len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 5 {
		t.Errorf("--limit 2: %+v", got)
	}
	got, _ = List(ctx, d.db.DB, Filter{Since: time.Now().Add(time.Hour)})
	if len(got) != 0 {
		t.Errorf("--since the future: %+v", got)
	}
	got, _ = List(ctx, d.db.DB, Filter{Since: time.Now().Add(-time.Hour), Action: "sandbox.run"})
	if len(got) != 1 || got[0].Seq != 3 {
		t.Errorf("--since an hour ago --action sandbox.run: %+v", got)
	}
}

// Check changes nothing: no key on a log never written to, and no anchor
// moved after a crash; the entries past the anchor still verify.
func TestCheckWritesNothing(t *testing.T) {
	d := newDataDir(t)
	if rep, err := Check(context.Background(), d.db.DB, d.dir); err != nil || !rep.OK || rep.Entries != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(d.dir, KeyFile)); err == nil {
		t.Fatal("Check made a key")
	}
	l, err := Open(context.Background(), d.db.DB, Options{Dir: d.dir, AnchorInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l.Append(context.Background(), Record{Actor: "mai", Action: "test.step"})
	}
	anchor, _ := os.ReadFile(filepath.Join(d.dir, AnchorFile))
	rep, err := Check(context.Background(), d.db.DB, d.dir)
	if err != nil || !rep.OK || rep.Entries != 3 || rep.Unanchored != 2 {
		t.Fatalf("%+v %v", rep, err)
	}
	if now, _ := os.ReadFile(filepath.Join(d.dir, AnchorFile)); string(now) != string(anchor) {
		t.Fatal("Check moved the anchor")
	}
	l.Close()
	os.Rename(filepath.Join(d.dir, KeyFile), filepath.Join(d.dir, "aside"))
	if _, err := Check(context.Background(), d.db.DB, d.dir); !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("without the key: %v", err)
	}
}
