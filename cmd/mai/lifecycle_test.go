package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/logging/logtest"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
)

// switchProxy forwards connections to target while on and closes them at
// once while off: a backend or a Docker engine that is not there yet, then
// comes up, at an address known before it does. With hold set, it keeps
// the connections made while off instead, unanswered, and forwards them
// once on: an engine that is slow to answer.
type switchProxy struct {
	addr string
	on   atomic.Bool
	hold atomic.Bool
	held atomic.Int32 // connections kept while off
}

func newSwitchProxy(t *testing.T, network, addr, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	p := &switchProxy{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.on.Load() {
				if !p.hold.Load() {
					c.Close()
					continue
				}
				p.held.Add(1)
			}
			go func() {
				defer c.Close()
				for !p.on.Load() {
					select {
					case <-done:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
				u, err := net.Dial(network, target)
				if err != nil {
					return
				}
				defer u.Close()
				// Half-closes pass through: Docker's attach closes its
				// write side after stdin and reads the output on.
				go func() { io.Copy(u, c); closeWrite(u) }()
				io.Copy(c, u)
			}()
		}
	}()
	return p
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// liveStatusOf runs mai status --json against the running daemon.
func liveStatusOf(t *testing.T, dir string, env map[string]string) statusReport {
	t.Helper()
	r := runMai(t, dir, env, "status", "--json")
	var rep statusReport
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("status: %+v", r)
	}
	return rep
}

// component returns the named component of a live status.
func component(rep statusReport, name string) health.Component {
	for _, c := range rep.Components {
		if c.Name == name {
			return c
		}
	}
	return health.Component{}
}

// waitLive waits up to a minute (the retries back off to one) for the
// daemon's status to satisfy cond, and returns it.
func waitLive(t *testing.T, dir string, env map[string]string, what string, cond func(statusReport) bool) statusReport {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rep := liveStatusOf(t, dir, env)
		if rep.Daemon.Live && cond(rep) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen in 90s; last status %+v", what, rep.Components)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logMessages returns the message of every line of the daemon's log.
func logMessages(t *testing.T, data string) []string {
	t.Helper()
	path := filepath.Join(data, ".logs", "mai.log")
	if _, err := os.Stat(path); err != nil {
		return nil // not written yet
	}
	var out []string
	for _, l := range logtest.Lines(t, path) {
		msg, _ := l["message"].(string)
		out = append(out, msg)
	}
	return out
}

func countPrefix(msgs []string, prefix string) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// noDocker points the daemon at a Docker socket nobody serves.
func noDocker(t *testing.T, env map[string]string) {
	env["DOCKER_HOST"] = "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")
}

// The components start in the documented order, each with a result, and
// stop in the reverse order.
func TestServeStartAndStopOrder(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	waitFor(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], ".logs", "mai.log"))
		return bytes.Contains(b, []byte("mai is running"))
	})
	interrupt(t, cmd, out, 20*time.Second)
	order := []string{"config", "database", "audit", "notify", "router", "memory", "sandbox", "approvals", "chat", "selfmod", "control", "discord"}
	var starts, results, stops []string
	for _, m := range logMessages(t, env["MAI_DATA_DIR"]) {
		switch {
		case strings.HasPrefix(m, "starting "):
			starts = append(starts, strings.TrimPrefix(m, "starting "))
		case strings.HasPrefix(m, "started "):
			results = append(results, strings.TrimPrefix(m, "started "))
		case strings.HasPrefix(m, "stopped ") && m != "stopped cleanly":
			stops = append(stops, strings.TrimPrefix(m, "stopped "))
		}
	}
	reversed := make([]string, len(order))
	for i, n := range order {
		reversed[len(order)-1-i] = n
	}
	if strings.Join(starts, ",") != strings.Join(order, ",") || strings.Join(results, ",") != strings.Join(order, ",") {
		t.Errorf("starts %v, results %v; want %v", starts, results, order)
	}
	if strings.Join(stops, ",") != strings.Join(reversed, ",") {
		t.Errorf("stops %v, want %v", stops, reversed)
	}
}

// Without Docker the sandbox is down with one log line and a status entry,
// Mai still chats, /run says why, and the sandbox is retried: when Docker
// answers (a proxy to the real engine switched on), status shows it up.
func TestServeDockerAbsentDegradesAndRecovers(t *testing.T) {
	sbEnv, _ := sandboxEnv(t)
	lms, dir, env := lmStudioEnv(t)
	env["SANDBOX_DOCKER_IMAGE"], env["LOG_LEVEL"], env["SANDBOX_POOL_SIZE"] = sbEnv["SANDBOX_DOCKER_IMAGE"], "debug", "0"
	sock := filepath.Join(t.TempDir(), "docker.sock")
	proxy := newSwitchProxy(t, "unix", sock, "/var/run/docker.sock")
	env["DOCKER_HOST"] = "unix://" + proxy.addr
	serveDaemon(t, dir, env)

	rep := waitLive(t, dir, env, "sandbox down", func(r statusReport) bool { return component(r, "sandbox").State == health.Down })
	if c := component(rep, "sandbox"); c.LastError == "" || !strings.Contains(c.Detail, "Docker") {
		t.Errorf("sandbox status = %+v, want the reason and the last error", c)
	}
	r := runMai(t, dir, env, "status")
	if !strings.Contains(r.stdout, "degraded: sandbox") || !strings.Contains(r.stdout, "sandbox") || !strings.Contains(r.stdout, "last error") {
		t.Errorf("mai status:\n%s", r.stdout)
	}
	// Chat still works; /run says why it cannot run code.
	r = runMai(t, dir, env, "chat", "--once", "hello there")
	if r.code != 0 || !strings.Contains(r.stdout, "hello there") {
		t.Errorf("chat without Docker: %+v", r)
	}
	r = runMai(t, dir, env, "chat", "--once", "/run\n```python\nprint(6*7)\n```")
	if r.code != 0 || !strings.Contains(r.stdout, "I cannot run code now") || !strings.Contains(r.stdout, "docker engine unreachable") {
		t.Errorf("/run without Docker: %+v", r)
	}
	// Retried with backoff, but said once.
	waitFor(t, func() bool { return countPrefix(logMessages(t, env["MAI_DATA_DIR"]), "sandbox still unavailable") >= 1 })
	if n := countPrefix(logMessages(t, env["MAI_DATA_DIR"]), "sandbox is unavailable"); n != 1 {
		t.Errorf("%d warnings that the sandbox is unavailable, want 1", n)
	}
	proxy.on.Store(true)
	waitLive(t, dir, env, "sandbox up", func(r statusReport) bool { return component(r, "sandbox").State == health.Up })
	r = runMai(t, dir, env, "chat", "--once", "/run\n```python\nprint(6*7)\n```")
	if r.code != 0 || !strings.Contains(r.stderr, "ran python: exit 0") || !modelSaw(lms, "42") {
		t.Errorf("/run after Docker came back: %+v", r)
	}
	if msgs := logMessages(t, env["MAI_DATA_DIR"]); countPrefix(msgs, "sandbox is back") != 1 {
		t.Errorf("no single 'sandbox is back' line")
	}
	// SANDBOX_POOL_SIZE=0: no container waits for the next job.
	b, err := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], "mai.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid == 0 {
		t.Fatalf("mai.pid: %q %v", b, err)
	}
	if ids := runningJobs(t, pid); len(ids) != 0 {
		t.Errorf("%d warm containers with the pool off", len(ids))
	}
}

// A broken audit chain found at start is logged loudly and shown in
// status, Mai runs on, and nothing is repaired: mai audit verify still
// fails after the daemon stopped.
func TestServeReportsABrokenAuditChain(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	data := env["MAI_DATA_DIR"]
	// Pinning a model is audited.
	if r := runMai(t, dir, env, "models", "switch", "lmstudio:meta/llama-3.2-3b"); r.code != 0 {
		t.Fatalf("switch: %+v", r)
	}
	if r := runMai(t, dir, env, "audit", "verify"); r.code != 0 {
		t.Fatalf("verify before tampering: %+v", r)
	}
	db, err := store.Open(context.Background(), filepath.Join(data, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DB.Exec(`UPDATE audit_log SET subject = 'forged' WHERE seq = (SELECT max(seq) FROM audit_log)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cmd, out := maiProcess(t, dir, envList(env), "serve")
	rep := waitLive(t, dir, env, "audit degraded", func(r statusReport) bool { return component(r, "audit").State == health.Degraded })
	if c := component(rep, "audit"); !strings.Contains(c.Detail, "THE AUDIT LOG IS BROKEN") || !strings.Contains(c.Detail, "mai audit verify") {
		t.Errorf("audit = %+v", c)
	}
	interrupt(t, cmd, out, 20*time.Second)
	var loud int
	for _, l := range logtest.Lines(t, filepath.Join(data, ".logs", "mai.log")) {
		if m, _ := l["message"].(string); l["level"] == "error" && strings.HasPrefix(m, "THE AUDIT LOG IS BROKEN") {
			loud++
		}
	}
	if loud != 1 {
		t.Errorf("%d error lines about the broken chain, want 1", loud)
	}
	if r := runMai(t, dir, env, "audit", "verify"); r.code == 0 {
		t.Errorf("the daemon repaired the chain: %+v", r)
	}
}

// A /run while the sandbox is still starting (Docker slow to answer) waits
// for it and runs, instead of being turned away.
func TestServeRunWaitsForAStartingSandbox(t *testing.T) {
	sbEnv, _ := sandboxEnv(t)
	lms, dir, env := lmStudioEnv(t)
	env["SANDBOX_DOCKER_IMAGE"], env["SANDBOX_POOL_SIZE"] = sbEnv["SANDBOX_DOCKER_IMAGE"], "0"
	proxy := newSwitchProxy(t, "unix", filepath.Join(t.TempDir(), "docker.sock"), "/var/run/docker.sock")
	proxy.hold.Store(true)
	env["DOCKER_HOST"] = "unix://" + proxy.addr
	serveDaemon(t, dir, env)
	// The sandbox is connecting: Docker has not answered it yet.
	waitFor(t, func() bool { return proxy.held.Load() > 0 })
	answer := time.AfterFunc(time.Second, func() { proxy.on.Store(true) })
	defer answer.Stop()
	r := runMai(t, dir, env, "chat", "--once", "/run\n```python\nprint(6*7)\n```")
	if r.code != 0 || !strings.Contains(r.stderr, "ran python: exit 0") || !modelSaw(lms, "42") {
		t.Errorf("/run while the sandbox started: %+v", r)
	}
}

// A model backend that comes up after the daemon is noticed by the probe
// without a restart, and chat works.
func TestServeBackendAppearsLater(t *testing.T) {
	lms, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	target := strings.TrimPrefix(lms.URL, "http://")
	proxy := newSwitchProxy(t, "tcp", "127.0.0.1:0", target)
	env["LMSTUDIO_ENDPOINT"] = "http://" + proxy.addr
	serveDaemon(t, dir, env)
	rep := waitLive(t, dir, env, "router down", func(r statusReport) bool { return component(r, "router").State == health.Down })
	if c := component(rep, "router"); c.LastError == "" {
		t.Errorf("router = %+v, want its last error", c)
	}
	proxy.on.Store(true)
	rep = waitLive(t, dir, env, "router up", func(r statusReport) bool { return component(r, "router").State == health.Up })
	if c := component(rep, "router"); c.Detail != "1 of 2 backends reachable" {
		t.Errorf("router detail %q", c.Detail)
	}
	r := runMai(t, dir, env, "chat", "--once", "are you there")
	if r.code != 0 || !strings.Contains(r.stdout, "are you there") || !modelSaw(lms, "are you there") {
		t.Errorf("chat after the backend came up: %+v", r)
	}
}

// A bot token Discord refuses (the fake answers 401) is one warning, a
// down status with the reason, and retried with backoff; chat through the
// terminal goes on.
func TestServeDiscordTokenRefused(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"], env["DISCORD_API_URL"] = "refused-token-123", discordOwner, fake.URL
	env["LOG_LEVEL"] = "debug"
	serveDaemon(t, dir, env)
	rep := waitLive(t, dir, env, "discord down", func(r statusReport) bool { return component(r, "discord").State == health.Down })
	if c := component(rep, "discord"); !strings.Contains(c.LastError, "401") || !strings.Contains(c.LastError, "DISCORD_BOT_TOKEN") {
		t.Errorf("discord = %+v, want the refusal", c)
	}
	waitFor(t, func() bool { return countPrefix(logMessages(t, env["MAI_DATA_DIR"]), "discord still unavailable") >= 2 })
	if n := countPrefix(logMessages(t, env["MAI_DATA_DIR"]), "discord is unavailable"); n != 1 {
		t.Errorf("%d warnings that Discord is unavailable, want 1", n)
	}
	if fake.Connected() {
		t.Error("a refused token reached the gateway")
	}
	if r := runMai(t, dir, env, "chat", "--once", "still here"); r.code != 0 || !strings.Contains(r.stdout, "still here") {
		t.Errorf("chat with Discord down: %+v", r)
	}
	b, _ := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], ".logs", "mai.log"))
	if bytes.Contains(b, []byte("refused-token-123")) {
		t.Error("the token reached the log")
	}
}

// SIGTERM while an answer streams into Discord: the answer completes, the
// outbox is empty, and then the daemon exits cleanly.
func TestServeSIGTERMDrainsDiscord(t *testing.T) {
	lms, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"], env["DISCORD_API_URL"] = discordtest.Token, discordOwner, fake.URL
	env["DISCORD_EDIT_INTERVAL"], env["MAI_FACTS_EVERY"] = "300ms", "0"
	words := make([]string, 30)
	for i := range words {
		words[i] = "w" + string(rune('a'+i%26)) + " "
	}
	words[len(words)-1] = "THE-END"
	lms.Script(lmstudiotest.Reply{Chunks: words})
	lms.SetChunkDelay(100 * time.Millisecond)
	cmd, out := maiProcess(t, dir, envList(env), "serve", "--shutdown-timeout", "60s")
	waitFor(t, fake.Connected)
	ch := fake.DMChannel(discordOwner)
	fake.SendDM(discordOwner, "tell me a story")
	waitFor(t, func() bool { m := fake.BotMessages(ch); return len(m) > 0 && strings.Contains(m[0].Content, "wa") })
	stopWith(t, cmd, out, syscall.SIGTERM, 90*time.Second)
	var all strings.Builder
	for _, m := range fake.BotMessages(ch) {
		all.WriteString(m.Content)
	}
	if !strings.Contains(all.String(), "THE-END") {
		t.Errorf("the answer was cut off at shutdown: %q", all.String())
	}
	if lms.Cancelled() != 0 {
		t.Errorf("the generation was cancelled %d times", lms.Cancelled())
	}
	db, err := store.Open(context.Background(), filepath.Join(env["MAI_DATA_DIR"], "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pending, unfinished int
	if err := db.DB.QueryRow(`SELECT count(*) FROM discord_outbox WHERE state = 'pending'`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if err := db.DB.QueryRow(`SELECT count(*) FROM discord_replies WHERE done = 0`).Scan(&unfinished); err != nil {
		t.Fatal(err)
	}
	if pending != 0 || unfinished != 0 {
		t.Errorf("after shutdown: %d outbox rows pending, %d replies unfinished; want none", pending, unfinished)
	}
}

// SIGTERM while mai chat streams an answer through the daemon: the answer
// completes in the terminal before the daemon exits.
func TestServeSIGTERMDrainsTerminal(t *testing.T) {
	lms, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	words := make([]string, 30)
	for i := range words {
		words[i] = "t" + string(rune('a'+i%26)) + " "
	}
	words[len(words)-1] = "THE-END"
	lms.Script(lmstudiotest.Reply{Chunks: words})
	lms.SetChunkDelay(100 * time.Millisecond)
	serve, serveOut := maiProcess(t, dir, envList(env), "serve", "--shutdown-timeout", "60s")
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(env["MAI_DATA_DIR"], "mai.sock")); return err == nil })
	chat, chatOut := maiProcess(t, dir, envList(env), "chat", "--once", "tell me a story")
	waitFor(t, func() bool { return modelSaw(lms, "tell me a story") })
	time.Sleep(300 * time.Millisecond) // a few words are out
	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	chatDone := make(chan error, 1)
	go func() { chatDone <- chat.Wait() }()
	select {
	case err := <-chatDone:
		if err != nil || !strings.Contains(chatOut.String(), "THE-END") {
			t.Errorf("chat: %v\n%s", err, chatOut)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("mai chat did not end")
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- serve.Wait() }()
	select {
	case err := <-serveDone:
		if err != nil {
			t.Errorf("serve: %v\n%s", err, serveOut)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("serve did not stop")
	}
	if lms.Cancelled() != 0 {
		t.Errorf("the generation was cancelled %d times", lms.Cancelled())
	}
}

// A second signal stops the daemon at once, without waiting for the
// answer the first one let run.
func TestServeSecondSignalStopsAtOnce(t *testing.T) {
	lms, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	words := make([]string, 600)
	for i := range words {
		words[i] = "slow "
	}
	lms.Script(lmstudiotest.Reply{Chunks: words})
	lms.SetChunkDelay(time.Second)
	serve, _ := maiProcess(t, dir, envList(env), "serve", "--shutdown-timeout", "30m")
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(env["MAI_DATA_DIR"], "mai.sock")); return err == nil })
	chat, _ := maiProcess(t, dir, envList(env), "chat", "--once", "take your time")
	t.Cleanup(func() { chat.Process.Kill(); chat.Wait() })
	waitFor(t, func() bool { return modelSaw(lms, "take your time") })
	data := env["MAI_DATA_DIR"]
	serve.Process.Signal(syscall.SIGTERM)
	waitFor(t, func() bool { return countPrefix(logMessages(t, data), "shutting down") == 1 })
	serve.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("exit %v, want status 1", err)
		}
	case <-time.After(60 * time.Second): // the answer alone would take ten minutes
		t.Fatal("a second signal did not stop the daemon")
	}
	if countPrefix(logMessages(t, data), "second signal: stopping without waiting") != 1 {
		t.Error("the log does not say the second signal stopped it")
	}
}

// SIGHUP reloads the log level and the model preferences from .env; a
// .env that does not load is one error line and changes nothing.
func TestServeSIGHUPReloads(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	dotenv := filepath.Join(dir, ".env")
	if err := os.WriteFile(dotenv, []byte("LOG_LEVEL=info\nMAI_MODELS=lmstudio:meta/llama-3.2-3b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, _ := maiProcess(t, dir, envList(env), "serve")
	// The commands run elsewhere, so that only the daemon reads this .env.
	client := t.TempDir()
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() })
	rep := waitLive(t, client, env, "daemon up", func(r statusReport) bool { return len(r.Plan.Candidates) > 0 })
	if got := rep.Plan.Candidates[0].Ref; got != "lmstudio:meta/llama-3.2-3b" {
		t.Fatalf("first candidate %s before the reload", got)
	}
	data := env["MAI_DATA_DIR"]
	runMai(t, client, env, "chat", "--once", "before")
	if n := countPrefix(logMessages(t, data), "control: message"); n != 0 {
		t.Fatalf("%d debug lines at level info", n)
	}
	if err := os.WriteFile(dotenv, []byte("LOG_LEVEL=debug\nMAI_MODELS=lmstudio:qwen/qwen3-8b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return countPrefix(logMessages(t, data), "SIGHUP: reloaded") == 1 })
	rep = liveStatusOf(t, client, env)
	if got := rep.Plan.Candidates[0].Ref; got != "lmstudio:qwen/qwen3-8b" {
		t.Errorf("first candidate %s after the reload, want the new preference", got)
	}
	runMai(t, client, env, "chat", "--once", "after")
	if n := countPrefix(logMessages(t, data), "control: message"); n != 1 {
		t.Errorf("%d debug lines after the reload to debug, want 1", n)
	}
	// A bad .env: one error line; the running configuration stays.
	if err := os.WriteFile(dotenv, []byte("LOG_LEVEL=info\nMAI_MODELS=nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return countPrefix(logMessages(t, data), "SIGHUP: the configuration does not load") == 1 })
	runMai(t, client, env, "chat", "--once", "still")
	if n := countPrefix(logMessages(t, data), "control: message"); n != 2 {
		t.Errorf("%d debug lines after a bad reload, want 2 (level kept at debug)", n)
	}
	if got := liveStatusOf(t, client, env).Plan.Candidates[0].Ref; got != "lmstudio:qwen/qwen3-8b" {
		t.Errorf("first candidate %s after a bad reload", got)
	}
}

// The warm pool keeps SANDBOX_POOL_SIZE started containers; a run uses
// one, which is gone afterwards, and a new one takes its place. Counted on
// the engine itself.
func TestServeWarmPoolContainerUsedOnce(t *testing.T) {
	sbEnv, _ := sandboxEnv(t)
	lms, dir, env := lmStudioEnv(t)
	env["SANDBOX_DOCKER_IMAGE"], env["SANDBOX_POOL_SIZE"] = sbEnv["SANDBOX_DOCKER_IMAGE"], "1"
	cmd, _ := maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() })
	jobs := func() []string { return runningJobs(t, cmd.Process.Pid) }
	var warm []string
	waitLong(t, "one warm container", func() bool { warm = jobs(); return len(warm) == 1 })
	waitLive(t, dir, env, "sandbox up", func(r statusReport) bool { return component(r, "sandbox").State == health.Up })
	r := runMai(t, dir, env, "chat", "--once", "/run\n```python\nprint(6*7)\n```")
	if r.code != 0 || !strings.Contains(r.stderr, "ran python: exit 0") || !modelSaw(lms, "42") {
		t.Fatalf("/run: %+v", r)
	}
	var now []string
	waitLong(t, "a new warm container", func() bool { now = jobs(); return len(now) == 1 && now[0] != warm[0] })
	cli := dockerClient(t)
	if _, err := cli.ContainerInspect(context.Background(), warm[0], client.ContainerInspectOptions{}); err == nil {
		t.Errorf("the used container %s is still on the engine", warm[0])
	}
}

func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// runningJobs returns the ids of the running sandbox job containers the
// process pid made, as the engine lists them.
func runningJobs(t *testing.T, pid int) []string {
	t.Helper()
	res, err := dockerClient(t).ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", sandbox.LabelRole+"=job").Add("label", sandbox.LabelPID+"="+strconv.Itoa(pid))})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Items {
		if c.State == container.StateRunning {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
