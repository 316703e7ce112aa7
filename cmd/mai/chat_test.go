package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat/chattest"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

// chatEnv is the environment of a mai that talks to the real Ollama
// through proxy.
func chatEnv(dir string, proxy *chattest.Proxy) map[string]string {
	return map[string]string{
		"MAI_DATA_DIR":       filepath.Join(dir, "data"),
		"OLLAMA_ENDPOINT":    proxy.URL,
		"LMSTUDIO_ENDPOINT":  "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "4",
		"MAI_MODELS":         "ollama:" + ollamatest.ChatModel,
		"MAI_FACTS_EVERY":    "0",
		"HOME":               dir,
	}
}

func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// storedTurns returns role:content of the owner's latest conversation,
// answers reduced to their model.
func storedTurns(t *testing.T, dataDir string) []string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dataDir, "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mem := memory.New(db, memory.Options{})
	conv, err := mem.LatestConversation(ctx, memory.LocalUser)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mem.Messages(ctx, conv.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Role == memory.RoleAssistant {
			out = append(out, "assistant:"+m.Model)
		} else {
			out = append(out, string(m.Role)+":"+m.Content)
		}
	}
	return out
}

// mai chat --once behaves the same in-process and through a running mai
// serve: one conversation, continued; each answer stored with its model;
// the earlier question in the context the daemon sends.
func TestChatOnceInProcessAndThroughServe(t *testing.T) {
	srv := ollamatest.Start(t)
	proxy := chattest.NewProxy(t, srv.URL(), 0)
	dir := t.TempDir()
	env := chatEnv(dir, proxy)
	r := runMai(t, dir, env, "chat", "--once", "what is a tortoise?", "--max-tokens", "8", "--stats")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" || !strings.Contains(r.stderr, ollamatest.ChatModel) {
		t.Fatalf("in-process: %+v", r)
	}
	serveEnv := envList(env)
	serveEnv = append(serveEnv, "LOG_LEVEL=debug")
	cmd, out := maiProcess(t, dir, serveEnv, "serve")
	sock := filepath.Join(env["MAI_DATA_DIR"], "mai.sock")
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	r = runMai(t, dir, env, "chat", "--once", "and a turtle?", "--max-tokens", "8")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("through serve: %+v\n%s", r, out)
	}
	logs, _ := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], ".logs", "mai.log"))
	if !bytes.Contains(logs, []byte("control: message")) {
		t.Error("the second chat did not go through the daemon")
	}
	chats := proxy.Chats() // loading a model is a chat without messages, too
	last := chats[len(chats)-1]
	if !bytes.Contains(last, []byte("and a turtle?")) || !bytes.Contains(last, []byte("what is a tortoise?")) {
		t.Errorf("the daemon's context lacks the earlier question: %s", last)
	}
	want := []string{"user:what is a tortoise?", "assistant:" + ollamatest.ChatModel, "user:and a turtle?", "assistant:" + ollamatest.ChatModel}
	if got := storedTurns(t, env["MAI_DATA_DIR"]); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("stored = %q, want %q", got, want)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v", fi.Mode(), err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve: %v\n%s", err, out)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("the socket outlived the daemon")
	}
}

// tmuxSession runs args as mai in a detached tmux session and returns the
// socket of its tmux server and a function that captures its screen.
func tmuxSession(t *testing.T, env map[string]string, args ...string) (sock string, screen func() string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		testenv.Missing(t, "tmux", err.Error(), "apt install tmux")
	}
	// A server of its own per session: the default one may be in use, and
	// one whose last session just ended may still be shutting down.
	sock = filepath.Join(t.TempDir(), "tmux.sock")
	const name = "mai"
	cmdline := []string{"env", "-i", "MAI_TEST_AS_MAI=1", "TERM=xterm-256color", "PATH=" + os.Getenv("PATH")}
	cmdline = append(cmdline, envList(env)...)
	cmdline = append(cmdline, os.Args[0])
	cmdline = append(cmdline, args...)
	// The pane stays after mai exits, so its last words can be read.
	tmux := append([]string{"-S", sock, "new-session", "-d", "-s", name, "-x", "160", "-y", "48"}, cmdline...)
	tmux = append(tmux, ";", "set-option", "-t", name, "remain-on-exit", "on")
	if out, err := exec.Command("tmux", tmux...).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	screen = func() string {
		out, _ := exec.Command("tmux", "-S", sock, "capture-pane", "-p", "-t", name, "-S", "-200").Output()
		return string(out)
	}
	return sock, screen
}

// keys types k into the session on the tmux server at sock.
func keys(t *testing.T, sock string, k ...string) {
	t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-S", sock, "send-keys", "-t", "mai"}, k...)...).CombinedOutput(); err != nil {
		t.Fatalf("send-keys: %v: %s", err, out)
	}
}

// exited reports whether mai in the session on sock has ended.
func exited(sock string) bool {
	out, err := exec.Command("tmux", "-S", sock, "display-message", "-p", "-t", "mai", "#{pane_dead}").Output()
	return err != nil || strings.TrimSpace(string(out)) == "1"
}

func waitScreen(t *testing.T, screen func() string, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := screen()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; the screen:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The interactive terminal, driven through tmux: streamed text appears
// with a status line after it, /status shows the model, Ctrl-C stops an
// answer without exiting, twice on an empty line exits, and the input
// history is kept for the next run.
func TestTerminalChatInTmux(t *testing.T) {
	testenv.Short(t, "drives the terminal chat with tmux and the real Ollama")
	srv := ollamatest.Start(t)
	proxy := chattest.NewProxy(t, srv.URL(), 25*time.Millisecond) // 40 tokens/s
	dir := t.TempDir()
	env := chatEnv(dir, proxy)
	session, screen := tmuxSession(t, env, "chat", "--max-tokens", "12")
	waitScreen(t, screen, "the prompt", func(s string) bool { return strings.Contains(s, "you›") })
	keys(t, session, "hello there", "Enter")
	waitScreen(t, screen, "the status line", func(s string) bool {
		return strings.Contains(s, ollamatest.ChatModel+" · ") && strings.Contains(s, "tokens/s")
	})
	keys(t, session, "/status", "Enter")
	waitScreen(t, screen, "/status", func(s string) bool { return strings.Contains(s, "model: ollama:"+ollamatest.ChatModel) })
	keys(t, session, "C-c")
	waitScreen(t, screen, "the exit hint", func(s string) bool { return strings.Contains(s, "Ctrl-C again to exit") })
	exec.Command("tmux", "-S", session, "kill-server").Run()

	// A long answer, stopped.
	session, screen = tmuxSession(t, env, "chat", "--max-tokens", "2000")
	waitScreen(t, screen, "the prompt", func(s string) bool { return strings.Contains(s, "you›") })
	keys(t, session, "tell me a long story", "Enter")
	before := waitScreen(t, screen, "streamed text", func(s string) bool {
		_, after, ok := strings.Cut(s, "tell me a long story")
		return ok && len(strings.Fields(after)) > 5
	})
	keys(t, session, "C-c")
	s := waitScreen(t, screen, "[stopped]", func(s string) bool { return strings.Contains(s, "[stopped]") })
	if strings.Contains(s, "tokens/s") && !strings.Contains(before, "tokens/s") {
		t.Error("the stopped answer got a status line as if it had finished")
	}
	keys(t, session, "/status", "Enter")
	waitScreen(t, screen, "/status after Ctrl-C", func(s string) bool { return strings.Contains(s, "model: ollama:") })
	keys(t, session, "C-c")
	waitScreen(t, screen, "the exit hint", func(s string) bool { return strings.Contains(s, "Ctrl-C again to exit") })
	keys(t, session, "C-c")
	deadline := time.Now().Add(15 * time.Second)
	for !exited(session) {
		if time.Now().After(deadline) {
			t.Fatalf("a second Ctrl-C did not exit:\n%s", screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	hist, err := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], historyFile))
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(hist)), "\n") {
		var s string
		json.Unmarshal([]byte(l), &s)
		lines = append(lines, s)
	}
	if err != nil || strings.Join(lines, "|") != "hello there|/status|tell me a long story|/status" {
		t.Errorf("history = %q, %v", lines, err)
	}
}

// What a terminal and a pipe are left with when an answer restarts on
// another model.
func TestAnswerWriterRestart(t *testing.T) {
	for _, tt := range []struct {
		name string
		live bool
		want string
	}{
		{"terminal: the new answer on its own line", true, "par\nwhole answer\n"},
		{"pipe: the final answer alone", false, "whole answer\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			a := &answerWriter{w: &b, live: tt.live}
			for _, step := range []string{"par", "", "whole ", "answer"} {
				if step == "" {
					a.restart()
					continue
				}
				if err := a.text(step); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.end(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
		})
	}
}

// The daemon dying while the terminal chat waits on an answer through it:
// the terminal says so and ends instead of hanging.
func TestTerminalChatWhenTheDaemonDies(t *testing.T) {
	testenv.Short(t, "drives the terminal chat with tmux, a mai serve process and the real Ollama")
	srv := ollamatest.Start(t)
	proxy := chattest.NewProxy(t, srv.URL(), 25*time.Millisecond)
	dir := t.TempDir()
	env := chatEnv(dir, proxy)
	cmd, out := maiProcess(t, dir, envList(env), "serve")
	waitFor(t, func() bool { _, err := os.Stat(filepath.Join(env["MAI_DATA_DIR"], "mai.sock")); return err == nil })
	session, screen := tmuxSession(t, env, "chat", "--max-tokens", "2000")
	waitScreen(t, screen, "the prompt, through the daemon", func(s string) bool {
		return strings.Contains(s, "through the running daemon") && strings.Contains(s, "you›")
	})
	keys(t, session, "tell me a long story", "Enter")
	waitScreen(t, screen, "streamed text", func(s string) bool {
		_, after, ok := strings.Cut(s, "tell me a long story")
		return ok && len(strings.Fields(after)) > 5
	})
	cmd.Process.Kill()
	cmd.Wait()
	waitScreen(t, screen, "the daemon's end", func(s string) bool {
		return strings.Contains(s, "the daemon stopped in the middle of the answer; run mai chat again")
	})
	deadline := time.Now().Add(15 * time.Second)
	for !exited(session) {
		if time.Now().After(deadline) {
			t.Fatalf("mai chat did not end after the daemon died:\n%s\n%s", screen(), out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Code the model asks to run that the gate judges HIGH becomes a persisted
// approval request: mai chat --once says how to decide it and waits, mai
// approvals approve decides it, the code runs in the real sandbox and its
// output reaches the model; the decision and the run are in the audit log.
func TestChatRunCodeWaitsForApproval(t *testing.T) {
	testenv.Short(t, "runs a container in the real Docker engine")
	srv := lmstudiotest.New(t, lmstudiotest.Model{Key: "qwen/qwen3-8b", ParamsString: "8B", SizeBytes: 5 << 30, ToolUse: true})
	dir := t.TempDir()
	image := os.Getenv("MAI_TEST_PYTHON_IMAGE")
	if image == "" {
		image = "mai-test/python:3-bookworm"
	}
	env := map[string]string{
		"MAI_DATA_DIR": filepath.Join(dir, "data"), "LMSTUDIO_ENDPOINT": srv.URL, "OLLAMA_ENDPOINT": "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "8", "SANDBOX_DOCKER_IMAGE": image, "MAI_FACTS_EVERY": "0", "HOME": dir,
	}
	if os.Getenv("DOCKER_HOST") != "" {
		env["DOCKER_HOST"] = os.Getenv("DOCKER_HOST")
	}
	args, _ := json.Marshal(map[string]string{"language": "python", "code": "import subprocess\nsubprocess.run(['echo', 'approved'])\n"})
	srv.Script(lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "run_code", Arguments: string(args)}}}, lmstudiotest.Reply{Chunks: []string{"It said approved."}})
	cmd, out := maiProcess(t, dir, envList(env), "chat", "--once", "run a command")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ended := func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
			return false
		}
	}
	id := pendingRequest(t, dir, env, ended)
	if r := runMai(t, dir, env, "approvals", "approve", id); r.code != 0 {
		t.Fatalf("approve: %+v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chat: %v\n%s", err, out)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("chat did not finish after the approval:\n%s", out)
	}
	if !strings.Contains(out.String(), "mai approvals approve "+id) || !strings.Contains(out.String(), "It said approved.") {
		t.Errorf("output:\n%s", out)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1].Messages
	if res := last[len(last)-1].Content; !strings.Contains(res, "approved") || !strings.Contains(res, "exit code 0") {
		t.Errorf("tool result = %q", res)
	}
	r := runMai(t, dir, env, "audit", "list", "--action", "approval", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("the decision is not in the audit log: %+v", r)
	}
	r = runMai(t, dir, env, "audit", "list", "--action", "sandbox.run", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("the run is not in the audit log: %+v", r)
	}
}

// What the terminal said before DISCORD_USER_ID was set becomes the
// owner's at the first start with it, once, and the audit log says so.
func TestTerminalHistoryJoinsTheOwner(t *testing.T) {
	srv, dir, env := lmStudioEnv(t)
	env["MAI_FACTS_EVERY"] = "0"
	srv.Script(lmstudiotest.Reply{Chunks: []string{"hello"}})
	if r := runMai(t, dir, env, "chat", "--once", "my tortoise is called Bartholomew"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	env["DISCORD_USER_ID"] = "123456789"
	srv.Script(lmstudiotest.Reply{Chunks: []string{"hi again"}})
	if r := runMai(t, dir, env, "chat", "--once", "how is my tortoise?"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1].Messages
	var sent strings.Builder
	for _, m := range last {
		sent.WriteString(m.Content + "\n")
	}
	if !strings.Contains(sent.String(), "Bartholomew") {
		t.Errorf("the owner's context lacks what the terminal said before:\n%s", sent.String())
	}
	r := runMai(t, dir, env, "audit", "list", "--action", "memory.merge_user", "--json")
	if r.code != 0 || strings.Count(r.stdout, "123456789") != 1 {
		t.Errorf("audit: %+v", r)
	}
	if r := runMai(t, dir, env, "memory", "export", "--user", "local"); r.code == 0 && strings.Contains(r.stdout, "Bartholomew") {
		t.Error("the history is still under local")
	}
}
