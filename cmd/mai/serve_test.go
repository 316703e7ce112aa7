package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// serveWithDiscord runs `mai serve` as a process over LM Studio's fake and
// discordtest (no sandbox); it returns both fakes, the owner's DM channel,
// the working directory and the environment.
func serveWithDiscord(t *testing.T) (*discordtest.Server, *lmstudiotest.Server, string, string, map[string]string) {
	t.Helper()
	lms, dir, env := lmStudioEnv(t)
	fake, ch := serveDiscordIn(t, dir, env)
	return fake, lms, ch, dir, env
}

// serveDiscordIn runs `mai serve` in dir with env and discordtest as
// Discord; it returns the fake and the owner's DM channel.
func serveDiscordIn(t *testing.T, dir string, env map[string]string) (*discordtest.Server, string) {
	t.Helper()
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"], env["DISCORD_API_URL"] = discordtest.Token, discordOwner, fake.URL
	env["DISCORD_EDIT_INTERVAL"], env["MAI_FACTS_EVERY"] = "300ms", "0"
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() { interrupt(t, cmd, out, 20*time.Second) })
	waitFor(t, fake.Connected)
	return fake, fake.DMChannel(discordOwner)
}

// The owner is one user across front ends: an answer running for a
// Discord DM is the owner's generation in `mai chat` too, so a /stop sent
// through the daemon's control socket stops it.
func TestServeOneOwnerAcrossFrontEnds(t *testing.T) {
	fake, lms, ch, dir, env := serveWithDiscord(t)
	words := make([]string, 200)
	for i := range words {
		words[i] = "word "
	}
	lms.Script(lmstudiotest.Reply{Chunks: words})
	lms.SetChunkDelay(200 * time.Millisecond)
	fake.SendDM(discordOwner, "tell me a long story")
	waitFor(t, func() bool { return modelSaw(lms, "tell me a long story") })
	waitFor(t, func() bool { m := fake.BotMessages(ch); return len(m) > 0 && strings.Contains(m[0].Content, "word") })
	r := runMai(t, dir, env, "chat", "--once", "/stop")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "nothing is running") {
		t.Fatalf("/stop through the daemon did not find the Discord answer: %+v", r)
	}
	waitFor(t, func() bool { return lms.Cancelled() == 1 })
}

// A self-modification the owner approves on Discord is committed by the
// running daemon, with no mai command after it; a selfmod command run
// afterwards finds it committed and commits nothing more.
func TestServeCommitsADecidedSelfModification(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	ws := warmerPersona(t, dir, env)
	fake, ch := serveDiscordIn(t, dir, env)

	res := runMai(t, dir, env, "selfmod", "propose", "--no-wait", "--message", "a warmer persona", "new.md:persona.md")
	m := regexp.MustCompile(`proposal (\S+) waits for approval request (\S+):`).FindStringSubmatch(res.stdout)
	if res.code != 0 || m == nil {
		t.Fatalf("propose: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	fake.React(discordOwner, ch, approvalEmbed(t, fake, ch, 1), discord.EmojiApprove)
	waitFor(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(ws, "persona.md"))
		return string(b) == "You are Mai, and warm.\n"
	})
	if got := gitT(t, ws, "rev-list", "--count", "main"); got != "2" {
		t.Fatalf("%s commits on main, want 2", got)
	}
	if trailers := gitT(t, ws, "log", "-1", "--format=%(trailers:only,unfold)"); !strings.Contains(trailers, "Mai-Approval-Id: "+m[2]) {
		t.Fatalf("trailers:\n%s", trailers)
	}
	res = runMai(t, dir, env, "selfmod", "list", "--json")
	var list []struct{ ID, State string }
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil || len(list) != 1 || list[0].ID != m[1] || list[0].State != "committed" {
		t.Fatalf("list: %v %s", err, res.stdout)
	}
	if got := gitT(t, ws, "rev-list", "--count", "main"); got != "2" {
		t.Fatalf("%s commits on main after a selfmod command, want 2", got)
	}
}
