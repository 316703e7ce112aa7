package audit

import (
	"context"
	"testing"
	"time"
)

// The start-up check re-hashes the anchored entry and everything after
// it; what lies before the anchor is left to the full Verify.
func TestVerifyFromAnchor(t *testing.T) {
	tests := []struct {
		name        string
		tamper      string
		wantOK      bool
		wantEntries int64
		wantSeq     int64
		wantKind    string
	}{
		{name: "intact", wantOK: true, wantEntries: 4},
		{name: "edit before the anchor", tamper: `UPDATE audit_log SET subject = 'x' WHERE seq = 4`, wantOK: true, wantEntries: 4},
		{name: "edit the anchored entry", tamper: `UPDATE audit_log SET subject = 'x' WHERE seq = 7`, wantSeq: 7, wantKind: KindEdited},
		{name: "edit after the anchor", tamper: `UPDATE audit_log SET details = '{}' WHERE seq = 9`, wantSeq: 9, wantKind: KindEdited},
		{name: "delete after the anchor", tamper: `DELETE FROM audit_log WHERE seq = 9`, wantSeq: 9, wantKind: KindMissing},
		{name: "cut back past the anchor", tamper: `DELETE FROM audit_log WHERE seq >= 6`, wantSeq: 6, wantKind: KindTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDataDir(t)
			d.fill(t, 10)
			l := d.open(t)
			// Anchor at entry 7, as if 8 to 10 came within the last second.
			var hash []byte
			if err := d.db.QueryRow(`SELECT hash FROM audit_log WHERE seq = 7`).Scan(&hash); err != nil {
				t.Fatal(err)
			}
			if err := writeAnchor(d.dir, l.h, l.keyID, 7, hash, time.Now()); err != nil {
				t.Fatal(err)
			}
			if tt.tamper != "" {
				d.exec(t, tt.tamper)
			}
			rep, err := l.VerifyFromAnchor(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK != tt.wantOK {
				t.Fatalf("OK = %v, problem %+v", rep.OK, rep.Problem)
			}
			if tt.wantOK && (rep.Entries != tt.wantEntries || rep.LastSeq != 10 || rep.Unanchored != 3) {
				t.Errorf("report %+v; want %d entries checked up to 10, 3 unanchored", rep, tt.wantEntries)
			}
			if !tt.wantOK && (rep.Problem.Seq != tt.wantSeq || rep.Problem.Kind != tt.wantKind) {
				t.Errorf("problem %+v; want entry %d, %s", rep.Problem, tt.wantSeq, tt.wantKind)
			}
			// The full check finds every change, before the anchor too.
			if full := verify(t, l); full.OK != (tt.tamper == "") {
				t.Errorf("full Verify OK = %v", full.OK)
			}
		})
	}
}
