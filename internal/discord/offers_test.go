package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord/discordtest"
)

// verdictWithRun sends a code file and waits for the verdict's ▶️.
func verdictWithRun(t *testing.T, fake *discordtest.Server, ch, name, code string, n int) string {
	t.Helper()
	fake.SendDM(ownerID, "", fake.Attachment(name, "", []byte(code)))
	var id string
	waitFor(t, "the verdict with its ▶️", func() bool {
		m := fake.BotMessages(ch)
		if len(m) != n || len(m[n-1].Reactions) != 1 || m[n-1].Reactions[0].Emoji.Name != "▶️" {
			return false
		}
		id = m[n-1].ID
		return true
	})
	return id
}

// TestRunOfferSurvivesRestart: the ▶️ offer is kept in the database, so
// the owner's ▶️ after a restart still runs exactly that code, once; an
// expired offer runs nothing and says so.
func TestRunOfferSurvivesRestart(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	db := openDB(t, t.TempDir())
	ch := fake.DMChannel(ownerID)
	first := &scriptChat{events: []Event{{Kind: EventText, Text: "ran it"}}}
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	b := New(s, db.DB, first, Options{Owner: ownerID, Log: testLog(t), EditInterval: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	waitFor(t, "the bot to connect", fake.Connected)
	code := "print('kept')\n"
	verdict := verdictWithRun(t, fake, ch, "kept.py", code, 1)
	old := verdictWithRun(t, fake, ch, "old.py", "print('old')\n", 2)
	cancel()
	<-done
	var stored string
	if err := db.QueryRow(`SELECT sha256 FROM discord_run_offers WHERE code = ?`, []byte(code)).Scan(&stored); err != nil ||
		stored != "475ae3f2597bda457c5913b99b39582e6e09bb4dc69c50983430c7a088233452" { // sha256sum of the file
		t.Fatalf("stored offer: %q %v", stored, err)
	}
	if _, err := db.Exec(`UPDATE discord_run_offers SET expires_at = 1 WHERE code = ?`, []byte("print('old')\n")); err != nil {
		t.Fatal(err)
	}

	second := &scriptChat{events: []Event{{Kind: EventText, Text: "ran it"}}}
	startBot(t, fake, db, second, Options{EditInterval: 100 * time.Millisecond})
	fake.React(ownerID, ch, verdict, "▶️")
	waitSent(t, second, "/run\n```python\nprint('kept')\n```")
	fake.React(ownerID, ch, old, "▶️")
	waitFor(t, "the expired offer's answer", func() bool {
		for _, m := range fake.BotMessages(ch) {
			if strings.Contains(m.Content, "expired") {
				return true
			}
		}
		return false
	})
	fake.React(ownerID, ch, verdict, "▶️") // one run per offer
	time.Sleep(300 * time.Millisecond)
	if s := second.sent(); len(s) != 1 || len(first.sent()) != 0 {
		t.Fatalf("runs: before the restart %q, after %q", first.sent(), s)
	}
}
