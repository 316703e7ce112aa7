package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestHeadCopyCatchesARewrite(t *testing.T) {
	ctx := context.Background()
	d := newDataDir(t)
	d.fill(t, 5)
	head, err := LatestHead(ctx, d.db.DB)
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != 5 || len(head.Hash) != 64 {
		t.Fatalf("head = %+v, want entry 5 with 64 hex digits", head)
	}
	parsed, err := ParseHead(head.String())
	if err != nil || parsed != head {
		t.Fatalf("ParseHead(%q) = %+v, %v", head.String(), parsed, err)
	}
	rep, err := CheckHead(ctx, d.db.DB, d.dir, head)
	if err != nil || !rep.OK {
		t.Fatalf("an untouched log against its head: %+v, %v", rep, err)
	}
	d.fill(t, 2) // later entries do not matter
	if rep, err = CheckHead(ctx, d.db.DB, d.dir, head); err != nil || !rep.OK {
		t.Fatalf("a log that grew against an older head: %+v, %v", rep, err)
	}

	// Whoever holds the key rewrites the log from entry 4 on: the chain
	// and the anchor verify, the copy of the head does not.
	d.exec(t, `DELETE FROM audit_log WHERE seq >= 4`)
	l := d.open(t)
	if _, err := l.Reanchor(ctx, "local", "cover-up"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	d.fill(t, 2) // a new entry 5
	if rep := verify(t, d.open(t)); !rep.OK {
		t.Fatalf("the rewritten log should verify on its own: %+v", rep.Problem)
	}
	rep, err = CheckHead(ctx, d.db.DB, d.dir, head)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Problem.Kind != KindRewritten || rep.Problem.Seq != 5 || !strings.Contains(rep.Problem.Message, "has hash") || !strings.Contains(rep.Problem.Message, "rewritten") {
		t.Fatalf("the rewritten log against the old head: %+v", rep.Problem)
	}

	gone := Head{Seq: 99, Hash: head.Hash}
	if rep, _ := CheckHead(ctx, d.db.DB, d.dir, gone); rep.OK || rep.Problem.Kind != KindRewritten || !strings.Contains(rep.Problem.Message, "not in the log") {
		t.Fatalf("a head past the end: %+v", rep.Problem)
	}
}

func TestParseHeadRefusesJunk(t *testing.T) {
	for _, s := range []string{"", "5", "5:", "x:" + strings.Repeat("a", 64), "0:" + strings.Repeat("a", 64), "5:abc", "5:" + strings.Repeat("g", 64)} {
		if _, err := ParseHead(s); !errors.Is(err, ErrBadHead) {
			t.Errorf("ParseHead(%q) = %v, want ErrBadHead", s, err)
		}
	}
}
