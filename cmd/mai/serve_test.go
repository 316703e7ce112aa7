package main

import (
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// serveWithDiscord runs `mai serve` as a process over LM Studio's fake and
// discordtest (no sandbox); it returns both fakes, the owner's DM channel,
// the working directory and the environment.
func serveWithDiscord(t *testing.T) (*discordtest.Server, *lmstudiotest.Server, string, string, map[string]string) {
	t.Helper()
	lms, dir, env := lmStudioEnv(t)
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"], env["DISCORD_API_URL"] = discordtest.Token, discordOwner, fake.URL
	env["DISCORD_EDIT_INTERVAL"], env["MAI_FACTS_EVERY"] = "300ms", "0"
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() { interrupt(t, cmd, out, 20*time.Second) })
	waitFor(t, fake.Connected)
	return fake, lms, fake.DMChannel(discordOwner), dir, env
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
