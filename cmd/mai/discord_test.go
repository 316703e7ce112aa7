package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/store"
)

func botMessages(fake *discordtest.Server, ch string) []discordgo.Message {
	var out []discordgo.Message
	for _, m := range fake.Messages(ch) {
		if m.Author != nil && m.Author.ID == discordtest.BotID {
			out = append(out, m)
		}
	}
	return out
}

// The real binary, as a separate process, serves Discord through
// DISCORD_API_URL: it answers the owner, refuses a stranger, shows an
// approval request another process made, and the owner's 👍 approves it.
func TestServeProcessDiscord(t *testing.T) {
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	const owner, stranger = "100000000000000001", "200000000000000002"
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cmd, out := maiProcess(t, dir, []string{"MAI_DATA_DIR=" + data, "OLLAMA_ENDPOINT=http://127.0.0.1:9", "LMSTUDIO_ENDPOINT=http://127.0.0.1:9",
		"DISCORD_BOT_TOKEN=" + discordtest.Token, "DISCORD_USER_ID=" + owner, "DISCORD_API_URL=" + fake.URL, "DISCORD_EDIT_INTERVAL=300ms"}, "serve")
	waitFor(t, fake.Connected)
	ch := fake.DMChannel(owner)
	fake.SendDM(owner, "hello")
	waitFor(t, func() bool { return len(botMessages(fake, ch)) == 1 && botMessages(fake, ch)[0].Content != "" })
	fake.SendDM(stranger, "who are you?")
	waitFor(t, func() bool {
		m := botMessages(fake, fake.DMChannel(stranger))
		return len(m) == 1 && m[0].Content == discord.Refusal
	})

	// Another process (as mai sandbox run would) asks for approval.
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(data, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alog, err := audit.Open(ctx, db.DB, audit.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	svc := approval.New(db.DB, approval.Options{Audit: alog, DiscordOwner: owner})
	req, err := svc.Create(ctx, approval.NewRequest{Kind: approval.KindCodeRun, Summary: "run python", Payload: []byte("print('hi')\n"),
		Verdict: &risk.Verdict{Level: risk.High, Lang: "python"}, Requester: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var embedID string
	waitFor(t, func() bool {
		for _, m := range botMessages(fake, ch) {
			if len(m.Embeds) == 1 && len(m.Reactions) == 2 {
				embedID = m.ID
			}
		}
		return embedID != ""
	})
	fake.React(owner, ch, embedID, discord.EmojiApprove)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if got, err := svc.Wait(wctx, req.ID); err != nil || got.State != approval.Approved || got.DecidedBy != "discord:"+owner {
		t.Fatalf("request %+v, %v; want approved by the owner on Discord", got, err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGINT")
	}
	logs, _ := os.ReadFile(filepath.Join(data, ".logs", "mai.log"))
	if bytes.Contains(logs, []byte(discordtest.Token)) || bytes.Contains(out.Bytes(), []byte(discordtest.Token)) {
		t.Fatal("the bot token appears in the log or output")
	}
	if !bytes.Contains(logs, []byte(stranger)) || bytes.Contains(logs, []byte("who are you?")) {
		t.Fatalf("the stranger should be logged by id only:\n%s", logs)
	}
}
