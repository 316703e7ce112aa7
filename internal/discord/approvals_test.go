package discord

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/risk"
)

// approvalBot runs a bot wired to a real approval service and audit log.
func approvalBot(t *testing.T, fake *discordtest.Server, dir string) (*Bot, *approval.Service) {
	t.Helper()
	db := openDB(t, dir)
	alog, err := audit.Open(context.Background(), db.DB, audit.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alog.Close() })
	chat := &scriptChat{events: []Event{{Kind: EventDone}}}
	s, err := NewSession(discordtest.Token, fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.LogLevel = -1
	b := New(s, db.DB, chat, Options{Owner: ownerID, Log: testLog(t)})
	svc := approval.New(db.DB, approval.Options{Audit: alog, DiscordOwner: ownerID}, b.Listener())
	b.SetApprovals(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the bot to connect", fake.Connected)
	return b, svc
}

func highRequest() approval.NewRequest {
	return approval.NewRequest{
		Kind: approval.KindCodeRun, Summary: "run python: delete the temp folder",
		Payload:   []byte("import shutil\nshutil.rmtree('/tmp/x')\n"),
		Verdict:   &risk.Verdict{Level: risk.High, Lang: "python", Findings: []risk.Finding{{Rule: "fs.delete", Level: risk.High, Line: 2, Reason: "deletes a directory tree"}}},
		Requester: "test",
	}
}

func TestApprovalEmbedAndOwnerReaction(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	dir := t.TempDir()
	b, svc := approvalBot(t, fake, dir)
	ctx := context.Background()
	req, err := svc.Create(ctx, highRequest())
	if err != nil {
		t.Fatal(err)
	}
	ch := fake.DMChannel(ownerID)
	waitFor(t, "the embed with 👍 and 👎", func() bool {
		m := fake.BotMessages(ch)
		return len(m) == 1 && len(m[0].Reactions) == 2
	})
	m := fake.BotMessages(ch)[0]
	e := m.Embeds[0]
	if !strings.Contains(e.Title, "Approval needed") || e.Color != 0xe67e22 || !strings.Contains(e.Description, "shutil.rmtree") {
		t.Fatalf("embed %+v", e)
	}
	var hashShown bool
	for _, f := range e.Fields {
		hashShown = hashShown || strings.Contains(f.Value, approval.Hash(highRequest().Payload))
	}
	if !hashShown || len(m.Attachments) != 1 || m.Attachments[0].Size != len(highRequest().Payload) {
		t.Fatalf("hash shown %v, attachments %+v", hashShown, m.Attachments)
	}
	var files map[string][]byte
	for _, c := range fake.Calls() {
		if len(c.Files) > 0 {
			files = c.Files
		}
	}
	if got := string(files["payload-"+req.ID+".py"]); got != string(highRequest().Payload) {
		t.Fatalf("attached file %q, want the exact payload", got)
	}
	// Another user's 👍 decides nothing (and is audited); the owner's does.
	fake.React("200000000000000002", ch, m.ID, EmojiApprove)
	waitFor(t, "the other user's reaction in the audit log", func() bool {
		entries, err := audit.List(ctx, b.db, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range entries {
			if x.Action == "approval.refuse" && x.Actor == "discord:200000000000000002" {
				return true
			}
		}
		return false
	})
	if r, _ := svc.Get(ctx, req.ID); r.State != approval.Pending {
		t.Fatalf("another user's 👍 made the request %s", r.State)
	}
	fake.React(ownerID, ch, m.ID, EmojiApprove)
	got, err := svc.Wait(ctx, req.ID)
	if err != nil || got.State != approval.Approved || got.DecidedBy != "discord:"+ownerID {
		t.Fatalf("request %+v, %v; want approved by the owner", got, err)
	}
	waitFor(t, "the embed to show the decision", func() bool {
		m := fake.BotMessages(ch)
		return strings.HasPrefix(m[0].Embeds[0].Title, "✅ Approved")
	})
}

func TestApprovalDeniedByThumbsDown(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	_, svc := approvalBot(t, fake, t.TempDir())
	ctx := context.Background()
	req, err := svc.Create(ctx, highRequest())
	if err != nil {
		t.Fatal(err)
	}
	ch := fake.DMChannel(ownerID)
	waitFor(t, "the embed", func() bool { m := fake.BotMessages(ch); return len(m) == 1 && len(m[0].Reactions) == 2 })
	fake.React(ownerID, ch, fake.BotMessages(ch)[0].ID, EmojiDeny)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got, err := svc.Wait(wctx, req.ID)
	if err != nil || got.State != approval.Denied {
		t.Fatalf("request %+v, %v; want denied", got, err)
	}
}

func TestPendingApprovalsReannouncedAfterRestart(t *testing.T) {
	fake := newFake(t, discordtest.Options{})
	dir := t.TempDir()
	// Requested while no bot listened (Discord off, or before a restart).
	db := openDB(t, dir)
	alog, err := audit.Open(context.Background(), db.DB, audit.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	req, err := approval.New(db.DB, approval.Options{Audit: alog, DiscordOwner: ownerID}).Create(context.Background(), highRequest())
	if err != nil {
		t.Fatal(err)
	}
	alog.Close()
	db.Close()
	_, svc := approvalBot(t, fake, dir)
	ch := fake.DMChannel(ownerID)
	waitFor(t, "the re-announced request", func() bool { m := fake.BotMessages(ch); return len(m) == 1 && len(m[0].Reactions) == 2 })
	fake.React(ownerID, ch, fake.BotMessages(ch)[0].ID, EmojiApprove)
	got, err := svc.Wait(context.Background(), req.ID)
	if err != nil || got.State != approval.Approved {
		t.Fatalf("request %+v, %v", got, err)
	}
	if _, err := svc.Decide(context.Background(), req.ID, approval.Decision{Approve: true, By: "discord:" + ownerID, Via: approval.ViaDiscord, PayloadSHA256: req.PayloadSHA256}); !errors.Is(err, approval.ErrNotPending) {
		t.Fatalf("deciding twice: %v", err)
	}
}
