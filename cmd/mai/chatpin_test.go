package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// With a PIN stored, a chat command that changes state needs it, in
// process and through a running daemon alike, and five wrong PINs lock it
// out as they lock out mai approvals.
func TestChatCommandsNeedThePIN(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	env["MAI_FACTS_EVERY"] = "0"
	if r := runMaiStdin(t, dir, env, "2468\n", "pin", "set"); r.code != 0 {
		t.Fatalf("pin set: %+v", r)
	}
	if r := runMai(t, dir, env, "chat", "--once", "/pause"); r.code != 1 || !strings.Contains(r.stderr, "PIN") {
		t.Fatalf("/pause without the PIN, in process: %+v", r)
	}
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	sock := filepath.Join(env["MAI_DATA_DIR"], "mai.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	if r := runMai(t, dir, env, "chat", "--once", "/clear"); r.code != 1 || !strings.Contains(r.stderr, "PIN is needed") {
		t.Errorf("/clear without the PIN, through the daemon: %+v\n%s", r, out)
	}
	env["MAI_PIN"] = "2468"
	if r := runMai(t, dir, env, "chat", "--once", "/clear"); r.code != 0 || !strings.Contains(r.stdout, "new conversation") {
		t.Errorf("/clear with the PIN, through the daemon: %+v\n%s", r, out)
	}
	env["MAI_PIN"] = "9999"
	for i := 1; i <= 5; i++ {
		r := runMai(t, dir, env, "chat", "--once", "/forget")
		if r.code != 1 || !strings.Contains(r.stderr, "wrong PIN") {
			t.Fatalf("wrong PIN %d through the daemon: %+v", i, r)
		}
		if i == 5 && !strings.Contains(r.stderr, "locked until") {
			t.Fatalf("the fifth wrong PIN does not lock: %+v", r)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	env["MAI_PIN"] = "2468"
	if r := runMai(t, dir, env, "chat", "--once", "/resume"); r.code != 1 || !strings.Contains(r.stderr, "locked until") {
		t.Errorf("the right PIN during the lock-out, in process: %+v", r)
	}
	if r := runMai(t, dir, env, "chat", "--once", "/status"); r.code != 0 {
		t.Errorf("/status needs no PIN: %+v", r)
	}
}

// mai status reads the daemon's live state on the control socket when it
// runs (its active model, its chat core), and plans in process otherwise.
func TestStatusThroughTheDaemon(t *testing.T) {
	srv, dir, env := lmStudioEnv(t)
	env["MAI_FACTS_EVERY"] = "0"
	type status struct {
		Daemon struct{ Running, Live bool }
		Chat   string
		Plan   struct{ Active string }
	}
	read := func() status {
		t.Helper()
		r := runMai(t, dir, env, "status", "--json")
		var st status
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
			t.Fatalf("status: %+v", r)
		}
		return st
	}
	if st := read(); st.Daemon.Running || st.Daemon.Live || st.Chat != "" {
		t.Errorf("without a daemon: %+v", st)
	}
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	sock := filepath.Join(env["MAI_DATA_DIR"], "mai.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	srv.Script(lmstudiotest.Reply{Chunks: []string{"hello"}})
	if r := runMai(t, dir, env, "chat", "--once", "hi"); r.code != 0 {
		t.Fatalf("chat: %+v\n%s", r, out)
	}
	st := read()
	if !st.Daemon.Live || st.Plan.Active != "lmstudio:qwen/qwen3-8b" || !strings.Contains(st.Chat, "last answer: qwen/qwen3-8b") {
		t.Errorf("through the daemon: %+v\n%s", st, out)
	}
	if r := runMai(t, dir, env, "status"); r.code != 0 || !strings.Contains(r.stdout, "chat (live, from the daemon)") {
		t.Errorf("status text: %+v", r)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
}

// `mai models switch` with the daemon running switches the model the
// daemon answers with (through the control socket), pins it and audits it.
func TestModelsSwitchThroughTheDaemon(t *testing.T) {
	srv, dir, env := lmStudioEnv(t)
	env["MAI_FACTS_EVERY"] = "0"
	out := serveDaemon(t, dir, env)
	if r := runMai(t, dir, env, "models", "switch", "lmstudio:meta/llama-3.2-3b"); r.code != 0 || !strings.Contains(r.stdout, "switched to lmstudio:meta/llama-3.2-3b") {
		t.Fatalf("switch: %+v\n%s", r, out)
	}
	srv.Script(lmstudiotest.Reply{Chunks: []string{"hello"}})
	if r := runMai(t, dir, env, "chat", "--once", "hi", "--stats"); r.code != 0 || !strings.Contains(r.stderr, "llama-3.2-3b") {
		t.Errorf("the daemon did not answer with the switched model: %+v\n%s", r, out)
	}
	var st struct {
		PinnedRef string `json:"pinned_ref"`
		Plan      struct{ Active string }
	}
	if r := runMai(t, dir, env, "status", "--json"); json.Unmarshal([]byte(r.stdout), &st) != nil || st.PinnedRef != "lmstudio:meta/llama-3.2-3b" || st.Plan.Active != "lmstudio:meta/llama-3.2-3b" {
		t.Errorf("status after the switch: %+v", st)
	}
	if r := runMai(t, dir, env, "audit", "list", "--action", "model.pin", "--json"); !strings.Contains(r.stdout, "llama-3.2-3b") {
		t.Errorf("the switch is not audited: %+v", r)
	}
}

// /switch typed in the chat is the owner's choice as `mai models switch`
// is: pinned and audited, in process and through the daemon alike, and
// /switch auto unpins.
func TestChatSwitchPinsAndAudits(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	env["MAI_FACTS_EVERY"] = "0"
	pinned := func() string {
		t.Helper()
		var st struct {
			PinnedRef string `json:"pinned_ref"`
		}
		if r := runMai(t, dir, env, "models", "status", "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil {
			t.Fatalf("models status: %+v", r)
		}
		return st.PinnedRef
	}
	if r := runMai(t, dir, env, "chat", "--once", "/switch lmstudio:meta/llama-3.2-3b"); r.code != 0 || !strings.Contains(r.stdout, "switched to lmstudio:meta/llama-3.2-3b, loaded and pinned") {
		t.Fatalf("/switch in process: %+v", r)
	}
	if got := pinned(); got != "lmstudio:meta/llama-3.2-3b" {
		t.Errorf("pinned after /switch in process = %q", got)
	}
	out := serveDaemon(t, dir, env)
	if r := runMai(t, dir, env, "chat", "--once", "/switch lmstudio:qwen/qwen3-8b"); r.code != 0 || !strings.Contains(r.stdout, "switched to lmstudio:qwen/qwen3-8b, loaded and pinned") {
		t.Fatalf("/switch through the daemon: %+v\n%s", r, out)
	}
	if got := pinned(); got != "lmstudio:qwen/qwen3-8b" {
		t.Errorf("pinned after /switch through the daemon = %q", got)
	}
	if r := runMai(t, dir, env, "chat", "--once", "/switch auto"); r.code != 0 || !strings.Contains(r.stdout, "no model pinned") {
		t.Fatalf("/switch auto: %+v", r)
	}
	if got := pinned(); got != "" {
		t.Errorf("pinned after /switch auto = %q", got)
	}
	var entries []struct{ Action, Subject string }
	r := runMai(t, dir, env, "audit", "list", "--action", "model", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("audit list: %v %+v", err, r)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+" "+e.Subject)
	}
	want := "model.pin lmstudio:meta/llama-3.2-3b, model.pin lmstudio:qwen/qwen3-8b, model.unpin model"
	if strings.Join(got, ", ") != want {
		t.Errorf("audited:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
}

// serveDaemon runs `mai serve` for the rest of the test and returns its
// output once its control socket is there.
func serveDaemon(t *testing.T, dir string, env map[string]string) *bytes.Buffer {
	t.Helper()
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() })
	sock := filepath.Join(env["MAI_DATA_DIR"], "mai.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	return out
}
