package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

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
	// mai status asks the daemon for its live connection.
	st := runMai(t, dir, map[string]string{"MAI_DATA_DIR": data, "OLLAMA_ENDPOINT": "http://127.0.0.1:9", "LMSTUDIO_ENDPOINT": "http://127.0.0.1:9",
		"DISCORD_BOT_TOKEN": discordtest.Token, "DISCORD_USER_ID": owner, "DISCORD_API_URL": fake.URL}, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil || rep.Discord != "connected" || !rep.Daemon.Live {
		t.Errorf("status while the daemon is connected: %v, discord %q, live %v; stderr %q", err, rep.Discord, rep.Daemon.Live, st.stderr)
	}
	ch := fake.DMChannel(owner)
	fake.SendDM(owner, "hello")
	waitFor(t, func() bool { return len(fake.BotMessages(ch)) == 1 && fake.BotMessages(ch)[0].Content != "" })
	fake.SendDM(stranger, "who are you?")
	waitFor(t, func() bool {
		m := fake.BotMessages(fake.DMChannel(stranger))
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
		for _, m := range fake.BotMessages(ch) {
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

	interrupt(t, cmd, out, 20*time.Second)
	logs, _ := os.ReadFile(filepath.Join(data, ".logs", "mai.log"))
	if bytes.Contains(logs, []byte(discordtest.Token)) || bytes.Contains(out.Bytes(), []byte(discordtest.Token)) {
		t.Fatal("the bot token appears in the log or output")
	}
	if !bytes.Contains(logs, []byte(stranger)) || bytes.Contains(logs, []byte("who are you?")) {
		t.Fatalf("the stranger should be logged by id only:\n%s", logs)
	}
}

// discordServe runs `mai serve` as a process over LM Studio's fake, the
// real Docker sandbox and discordtest; it returns the fake, the owner's DM
// channel and the environment.
func discordServe(t *testing.T) (*discordtest.Server, *lmstudiotest.Server, string, string, map[string]string) {
	t.Helper()
	testenv.Short(t, "runs mai serve with the real Docker sandbox")
	fake, lms, dir, env := discordSandboxEnv(t)
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if t.Failed() {
			t.Logf("mai serve:\n%s", out)
			if b, err := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], ".logs", "mai.log")); err == nil {
				t.Logf("mai.log:\n%s", b)
			}
		}
	})
	waitFor(t, fake.Connected)
	return fake, lms, fake.DMChannel(discordOwner), dir, env
}

// modelSaw reports whether any chat request to the model contained s.
func modelSaw(lms *lmstudiotest.Server, s string) bool {
	for _, r := range lms.ChatRequests() {
		for _, m := range r.Messages {
			if strings.Contains(m.Content, s) {
				return true
			}
		}
	}
	return false
}

const discordOwner = "100000000000000001"

// waitLong is waitFor with room for a container run.
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// approvalEmbed waits for the n-th approval embed with 👍 and 👎 in ch.
func approvalEmbed(t *testing.T, fake *discordtest.Server, ch string, n int) string {
	t.Helper()
	var id string
	waitLong(t, "the approval embed", func() bool {
		k := 0
		for _, m := range fake.BotMessages(ch) {
			if len(m.Embeds) == 1 && len(m.Reactions) == 2 {
				if k++; k == n {
					id = m.ID
				}
			}
		}
		return id != ""
	})
	return id
}

// replyContaining waits for a bot message in ch whose text has want.
func replyContaining(t *testing.T, fake *discordtest.Server, ch, want string) string {
	t.Helper()
	var got string
	defer func() {
		if got == "" {
			for _, m := range fake.BotMessages(ch) {
				t.Logf("bot message: %q", m.Content)
			}
		}
	}()
	waitLong(t, "a reply with "+want, func() bool {
		for _, m := range fake.BotMessages(ch) {
			if strings.Contains(m.Content, want) {
				got = m.Content
				return true
			}
		}
		return false
	})
	return got
}

// highRun prints a marker; the tool result the model gets has it after
// "stdout:" only when the code ran.
const highRun = "/run\n```python\nimport subprocess\nsubprocess.run(['echo', 'ran-after' + '-approval'])\n```"

// The owner's 👍 on a HIGH /run runs it in the sandbox and the result
// comes back in the DM (the run's line, and the model's explanation of its
// output); another user's 👍 does nothing (and is audited).
func TestDiscordRunApprovedByOwner(t *testing.T) {
	fake, lms, ch, dir, env := discordServe(t)
	fake.SendDM(discordOwner, highRun)
	embed := approvalEmbed(t, fake, ch, 1)
	stranger := "200000000000000002"
	fake.React(stranger, ch, embed, discord.EmojiApprove)
	waitLong(t, "the stranger's reaction in the audit log", func() bool {
		r := runMai(t, dir, env, "audit", "list", "--action", "approval.refuse", "--json")
		return r.code == 0 && strings.Contains(r.stdout, "discord:"+stranger)
	})
	for _, m := range fake.BotMessages(ch) {
		if strings.Contains(m.Content, "ran python") {
			t.Fatalf("the code ran on a stranger's 👍: %q", m.Content)
		}
	}
	fake.React(discordOwner, ch, embed, discord.EmojiApprove)
	replyContaining(t, fake, ch, "ran python: exit 0")
	if !modelSaw(lms, "exit code 0\nstdout:\nran-after-approval") {
		t.Fatal("the sandbox's output did not reach the model")
	}
}

// The owner's 👎 denies the run: nothing runs and the DM says so.
func TestDiscordRunDeniedByOwner(t *testing.T) {
	fake, lms, ch, dir, env := discordServe(t)
	fake.SendDM(discordOwner, highRun)
	embed := approvalEmbed(t, fake, ch, 1)
	fake.React(discordOwner, ch, embed, discord.EmojiDeny)
	waitLong(t, "the embed to show the denial", func() bool {
		for _, m := range fake.BotMessages(ch) {
			if m.ID == embed && strings.HasPrefix(m.Embeds[0].Title, "❌ Denied") {
				return true
			}
		}
		return false
	})
	r := runMai(t, dir, env, "audit", "list", "--action", "sandbox.run", "--json")
	if strings.Contains(r.stdout, "ran-after-approval") {
		t.Fatalf("a denied run ran: %s", r.stdout)
	}
	replyContaining(t, fake, ch, "approval was denied by discord:"+discordOwner)
	for _, m := range fake.BotMessages(ch) {
		if strings.Contains(m.Content, "ran python") {
			t.Fatalf("a denied run ran: %q", m.Content)
		}
	}
	if modelSaw(lms, "stdout:\nran-after-approval") {
		t.Fatal("a denied run's output reached the model")
	}
}

// discordSandboxEnv is the environment of a `mai serve` over LM Studio's
// fake, the real Docker sandbox and a new discordtest server.
func discordSandboxEnv(t *testing.T) (*discordtest.Server, *lmstudiotest.Server, string, map[string]string) {
	t.Helper()
	sbEnv, _ := sandboxEnv(t)
	lms, dir, env := lmStudioEnv(t)
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	for k, v := range sbEnv {
		env[k] = v
	}
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"], env["DISCORD_API_URL"] = discordtest.Token, discordOwner, fake.URL
	env["MAI_FACTS_EVERY"] = "0"
	if os.Getenv("DOCKER_HOST") != "" {
		env["DOCKER_HOST"] = os.Getenv("DOCKER_HOST")
	}
	return fake, lms, dir, env
}

// A ▶️ offer made before `mai serve` restarts still runs after it: the
// owner's ▶️ on the old verdict runs that exact file through the gate,
// which asks for approval as the code is HIGH.
func TestDiscordRunOfferSurvivesServeRestart(t *testing.T) {
	testenv.Short(t, "runs mai serve twice with the real Docker sandbox")
	fake, _, dir, env := discordSandboxEnv(t)
	ch := fake.DMChannel(discordOwner)
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	waitFor(t, fake.Connected)
	code := "import subprocess\nsubprocess.run(['echo', 'ran-after' + '-restart'])\n"
	fake.SendDM(discordOwner, "", fake.Attachment("later.py", "", []byte(code)))
	var verdict string
	waitLong(t, "the verdict with its ▶️", func() bool {
		for _, m := range fake.BotMessages(ch) {
			if len(m.Reactions) == 1 && m.Reactions[0].Emoji.Name == "▶️" {
				verdict = m.ID
			}
		}
		return verdict != ""
	})
	interrupt(t, cmd, out, 30*time.Second)
	waitFor(t, func() bool { return !fake.Connected() })

	cmd, out = maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if t.Failed() {
			t.Logf("mai serve:\n%s", out)
		}
	})
	waitFor(t, fake.Connected)
	fake.React(discordOwner, ch, verdict, "▶️")
	embed := approvalEmbed(t, fake, ch, 1)
	fake.React(discordOwner, ch, embed, discord.EmojiApprove)
	replyContaining(t, fake, ch, "ran python: exit 0")
}
