package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/discord/discordtest"
	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/selfmod"
	"github.com/maicompanion/mai/internal/store"
)

// A copy of the head taken before the log was rewritten with its own key
// catches the rewrite that the chain and the anchor let through.
func TestAuditVerifyHeadCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"MAI_DATA_DIR": data}
	for range 3 {
		createRequest(t, data, "x")
	}
	r := runMai(t, dir, env, "audit", "list", "--json")
	var entries []audit.Entry
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) != 3 {
		t.Fatalf("audit list: %+v %v", r, err)
	}
	head := fmt.Sprintf("%d:%s", entries[2].Seq, entries[2].Hash)
	if r := runMai(t, dir, env, "audit", "verify", "--head", head); r.code != 0 || !strings.Contains(r.stdout, "entry 3 matches the copy of the head") {
		t.Fatalf("verify --head on the untouched log: %+v", r)
	}

	db, err := store.Open(context.Background(), filepath.Join(data, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`DELETE FROM audit_log WHERE seq = 3`)
	db.Close()
	if r := runMai(t, dir, env, "audit", "reanchor", "--reason", "nothing to see"); r.code != 0 {
		t.Fatalf("reanchor: %+v", r)
	}
	if r := runMai(t, dir, env, "audit", "verify"); r.code != 0 {
		t.Fatalf("the rewritten log verifies on its own: %+v", r)
	}
	r = runMai(t, dir, env, "audit", "verify", "--head", head)
	if r.code != 1 || !strings.Contains(r.stdout, "REWRITTEN") || !strings.Contains(r.stdout, "entry 3 has hash") {
		t.Fatalf("verify --head after the rewrite: %+v", r)
	}
	r = runMai(t, dir, env, "audit", "verify", "--head", "3:nothex")
	if r.code != 2 || !strings.Contains(r.stderr, "SEQ:HASH") {
		t.Fatalf("a malformed --head: %+v", r)
	}
}

// /audit through the daemon gives the audit head and DMs a copy, which
// verifies against the log; mai status shows the queues and last errors.
func TestServeNotifiesTheOwner(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	env["MAI_NOTIFY_INTERVAL"] = "1s"
	createRequest(t, env["MAI_DATA_DIR"], "x") // an audit entry to have a head
	fake, ch := serveDiscordIn(t, dir, env)

	r := runMai(t, dir, env, "chat", "--once", "/audit")
	if r.code != 0 || !strings.Contains(r.stdout, "A copy went to your Discord DMs") {
		t.Fatalf("/audit through the daemon: %+v", r)
	}
	asked := headIn(t, r.stdout)
	dm := headIn(t, replyContaining(t, fake, ch, "Audit log head: "))
	if dm != asked {
		t.Fatalf("the DM says %s, /audit said %s", dm, asked)
	}
	if r := runMai(t, dir, env, "audit", "verify", "--head", dm); r.code != 0 {
		t.Fatalf("the DMed head %s does not verify: %+v", dm, r)
	}
	var entries []audit.Entry
	r = runMai(t, dir, env, "audit", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || fmt.Sprintf("%d:%s", e.Seq, e.Hash) == asked
	}
	if !found {
		t.Fatalf("/audit's head %s is no entry of the log", asked)
	}

	// mai status, live: the one pending request, and Docker's absence
	// among the last errors.
	rep := liveStatusOf(t, dir, env)
	if rep.Queues.Approvals != 1 || len(rep.LastErrors) == 0 {
		t.Fatalf("status queues %+v, last errors %+v; want 1 approval and the sandbox's error", rep.Queues, rep.LastErrors)
	}
	if e := rep.LastErrors[len(rep.LastErrors)-1]; e.Component != "sandbox" || e.Error == "" || e.At.IsZero() || e.Count < 1 {
		t.Errorf("the oldest last error = %+v, want the sandbox's", e)
	}
	r = runMai(t, dir, env, "status")
	if !strings.Contains(r.stdout, "queues: outbox ") || !strings.Contains(r.stdout, ", approvals 1, ") || !strings.Contains(r.stdout, "last errors:") {
		t.Errorf("mai status:\n%s", r.stdout)
	}
}

// Without a daemon, mai status counts the queues in the database.
func TestStatusQueuesWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := map[string]string{"MAI_DATA_DIR": data}
	for range 2 {
		createRequest(t, data, "x")
	}
	r := runMai(t, dir, env, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	if want := (queueDepths{Approvals: 2}); rep.Queues != want || rep.Daemon.Live || rep.LastErrors != nil {
		t.Fatalf("queues %+v, last errors %+v; want %+v and none", rep.Queues, rep.LastErrors, want)
	}
	if r := runMai(t, dir, env, "status"); !strings.Contains(r.stdout, "queues: outbox 0, approvals 2, embedding 0, notices 0") {
		t.Errorf("mai status:\n%s", r.stdout)
	}
}

// headIn returns the SEQ:HASH after "Audit log head: " in text.
func headIn(t *testing.T, text string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, "Audit log head: ")
	if !ok {
		t.Fatalf("no head in %q", text)
	}
	h, err := audit.ParseHead(strings.Fields(rest)[0])
	if err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	return h.String()
}

// The example systemd unit starts mai serve with flags it accepts, reloads
// with SIGHUP, and gives the shutdown more time than --shutdown-timeout.
func TestSystemdUnitMatchesServe(t *testing.T) {
	b, err := os.ReadFile("../../contrib/systemd/mai.service")
	if err != nil {
		t.Fatal(err)
	}
	service := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not key=value in [Service]: %q", line)
			}
			service[k] = v
		}
	}
	start := strings.Fields(service["ExecStart"])
	if len(start) < 2 || filepath.Base(start[0]) != "mai" || start[1] != "serve" {
		t.Fatalf("ExecStart = %q, want .../mai serve [flags]", service["ExecStart"])
	}
	flags := start[2:]
	if w, ok := strings.CutPrefix(service["ExecReload"], "/bin/kill -HUP "); !ok || w != "$MAINPID" {
		t.Errorf("ExecReload = %q, want /bin/kill -HUP $MAINPID", service["ExecReload"])
	}
	if service["KillSignal"] != "SIGTERM" || service["Restart"] != "on-failure" {
		t.Errorf("KillSignal %q, Restart %q; want SIGTERM, on-failure", service["KillSignal"], service["Restart"])
	}
	grace := 10 * time.Second // mai serve's default
	for i, f := range flags {
		if v, ok := strings.CutPrefix(f, "--shutdown-timeout="); ok {
			grace, err = time.ParseDuration(v)
		} else if f == "--shutdown-timeout" && i+1 < len(flags) {
			grace, err = time.ParseDuration(flags[i+1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	stop, err := time.ParseDuration(service["TimeoutStopSec"])
	if err != nil || stop <= grace || stop > grace+30*time.Second {
		t.Fatalf("TimeoutStopSec = %q, want a little more than --shutdown-timeout %s", service["TimeoutStopSec"], grace)
	}

	// What systemd would do: start it with the unit's flags, reload with
	// the unit's command, stop with its signal within its timeout.
	_, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	cmd, out := maiProcess(t, dir, envList(env), append([]string{"serve"}, flags...)...)
	logged := func(msg string) func() bool {
		return func() bool {
			b, _ := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], ".logs", "mai.log"))
			return bytes.Contains(b, []byte(msg))
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mai serve %v:\n%s", flags, out)
		}
	})
	waitFor(t, logged("mai is running"))
	reload := strings.Fields(strings.ReplaceAll(service["ExecReload"], "$MAINPID", fmt.Sprint(cmd.Process.Pid)))
	if b, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v %s", reload, err, b)
	}
	waitFor(t, logged("SIGHUP: reloaded"))
	stopWith(t, cmd, out, syscall.SIGTERM, stop)
}

// The daemon's self-modification pipeline analyses with the risk policy
// SIGHUP reloads, not a copy read at start.
func TestSelfmodFollowsTheReloadedPolicy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ws := filepath.Join(dir, "workspace")
	m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
		cfg: &config.Config{DataDir: dir, MemoryDBPath: filepath.Join(dir, "mai.db"), Workspace: ws}}
	sc, err := newSandboxComponent(m, zerolog.Nop(), health.New(nil))
	if err != nil {
		t.Fatal(err)
	}
	led, err := m.openLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer led.close()
	o, closeChecks, err := m.selfmodOptions(ctx, led, nil, sc.gate(selfmod.CheckApprover{}), func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	defer closeChecks()
	if o.PolicyOf == nil || o.PolicyOf() != nil {
		t.Fatalf("before a policy file: PolicyOf set %v", o.PolicyOf != nil)
	}
	policy := filepath.Join(ws, filepath.FromSlash(risk.PolicyFile))
	if err := os.MkdirAll(filepath.Dir(policy), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(`{"rules": {"net.client": {"level": "HIGH"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sc.reloadPolicy(); err != nil {
		t.Fatal(err)
	}
	p := o.PolicyOf()
	if p == nil || p.Rules["net.client"].Level != risk.High {
		t.Fatalf("after the reload the pipeline sees %+v", p)
	}
}

// A DM that arrives while mai serve drains at SIGTERM is not answered by
// the stopping process, and is answered after the restart.
func TestServeKeepsDMsArrivingDuringTheDrain(t *testing.T) {
	lms, dir, env := lmStudioEnv(t)
	noDocker(t, env)
	fake := discordtest.New(discordtest.Options{})
	t.Cleanup(fake.Close)
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"], env["DISCORD_API_URL"] = discordtest.Token, discordOwner, fake.URL
	env["DISCORD_EDIT_INTERVAL"], env["MAI_FACTS_EVERY"] = "300ms", "0"
	env["MAI_NOTIFY"] = "false" // only the answers in the DM channel
	words := make([]string, 80)
	for i := range words {
		words[i] = "w "
	}
	words[len(words)-1] = "THE-END"
	lms.Script(lmstudiotest.Reply{Chunks: words})
	lms.SetChunkDelay(100 * time.Millisecond)
	cmd, out := maiProcess(t, dir, envList(env), "serve", "--shutdown-timeout", "60s")
	waitFor(t, fake.Connected)
	ch := fake.DMChannel(discordOwner)
	fake.SendDM(discordOwner, "tell me a story")
	waitFor(t, func() bool { m := fake.BotMessages(ch); return len(m) > 0 && strings.Contains(m[0].Content, "w") })

	data := env["MAI_DATA_DIR"]
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mai serve:\n%s\nlog: %q", out, logMessages(t, data))
		}
	})
	cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, func() bool {
		return countPrefix(logMessages(t, data), "discord: new DMs are kept for the next start") == 1
	})
	fake.SendDM(discordOwner, "a question during the drain")
	waitFor(t, func() bool {
		return countPrefix(logMessages(t, data), "discord: a DM arrived while Mai is stopping") == 1
	})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, out)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM\n%s", out)
	}
	if modelSaw(lms, "a question during the drain") {
		t.Fatal("the stopping process answered the DM that arrived during the drain")
	}
	if n := len(fake.BotMessages(ch)); n != 1 {
		t.Fatalf("%d bot messages after the stop, want the story only", n)
	}

	lms.SetChunkDelay(0)
	lms.Script(lmstudiotest.Reply{Chunks: []string{"answered-after-restart"}})
	cmd, out = maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() { interrupt(t, cmd, out, 20*time.Second) })
	got := replyContaining(t, fake, ch, "answered-after-restart")
	if !modelSaw(lms, "a question during the drain") {
		t.Fatalf("the held DM did not reach the model; the reply was %q", got)
	}
}
