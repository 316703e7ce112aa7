package main

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// lmStudioEnv starts a fake LM Studio with two chat models and returns the
// environment that points Mai at it alone (Ollama on a closed port).
func lmStudioEnv(t *testing.T) (*lmstudiotest.Server, string, map[string]string) {
	t.Helper()
	srv := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "qwen/qwen3-8b", ParamsString: "8B", SizeBytes: 5 << 30, Quantization: "Q4_K_M"},
		lmstudiotest.Model{Key: "meta/llama-3.2-3b", ParamsString: "3B", SizeBytes: 2 << 30},
	)
	dir := t.TempDir()
	env := map[string]string{
		"MAI_DATA_DIR":       filepath.Join(dir, "data"),
		"LMSTUDIO_ENDPOINT":  srv.URL,
		"OLLAMA_ENDPOINT":    "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "8",
	}
	return srv, dir, env
}

func TestModelsListAndStatus(t *testing.T) {
	_, dir, env := lmStudioEnv(t)
	r := runMai(t, dir, env, "models", "list", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var rows []struct {
		Ref    string `json:"ref"`
		Loaded bool   `json:"loaded"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%v %s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "Ollama is not reachable") {
		t.Errorf("the unreachable backend should be named on stderr: %q", r.stderr)
	}
	text := runMai(t, dir, env, "models")
	if text.code != 0 || !strings.Contains(text.stdout, "lmstudio:qwen/qwen3-8b") || !strings.Contains(text.stdout, "Q4_K_M") {
		t.Errorf("%+v", text)
	}
	st := runMai(t, dir, env, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil || st.code != 0 {
		t.Fatalf("%v %+v", err, st)
	}
	if len(rep.Plan.Pools) != 1 || rep.Plan.Pools[0].Bytes != 8<<30 || len(rep.Plan.Candidates) != 2 || rep.Discord != "off" || rep.Daemon.Running {
		t.Errorf("status = %+v", rep)
	}
	// A token alone connects nothing: status says what is so, not what is configured.
	env["DISCORD_BOT_TOKEN"], env["DISCORD_USER_ID"] = "tok.en", "42"
	st = runMai(t, dir, env, "status")
	if !strings.Contains(st.stdout, "discord: not connected") || strings.Contains(st.stdout, "configured") {
		t.Errorf("status with a Discord token:\n%s", st.stdout)
	}
}

func TestModelsSwitchPinsAndChatStreams(t *testing.T) {
	srv, dir, env := lmStudioEnv(t)
	r := runMai(t, dir, env, "models", "switch", "lmstudio:meta/llama-3.2-3b")
	if r.code != 0 || !strings.Contains(r.stdout, "switched to lmstudio:meta/llama-3.2-3b") {
		t.Fatalf("%+v", r)
	}
	if srv.Loads() != 1 {
		t.Errorf("loads = %d, want 1", srv.Loads())
	}
	// A second switch to the same model must not load it again.
	if r := runMai(t, dir, env, "models", "switch", "lmstudio:meta/llama-3.2-3b"); r.code != 0 || srv.Loads() != 1 {
		t.Errorf("second switch: %+v, loads %d", r, srv.Loads())
	}
	srv.Script(lmstudiotest.Reply{Chunks: []string{"Hel", "lo ", "there."}})
	c := runMai(t, dir, env, "chat", "--once", "hi", "--stats")
	if c.code != 0 || c.stdout != "Hello there.\n" || !strings.Contains(c.stderr, "tokens/s") {
		t.Fatalf("chat: %+v", c)
	}
	reqs := srv.ChatRequests()
	if len(reqs) != 1 || reqs[0].Model != "meta/llama-3.2-3b" {
		t.Errorf("the pinned model should answer: %+v", reqs)
	}
	st := runMai(t, dir, env, "status", "--json")
	var rep statusReport
	json.Unmarshal([]byte(st.stdout), &rep)
	if rep.PinnedRef != "lmstudio:meta/llama-3.2-3b" || len(rep.Switches) == 0 || rep.Switches[len(rep.Switches)-1].Cause != "request" {
		t.Errorf("status after switch: pinned %q, switches %+v", rep.PinnedRef, rep.Switches)
	}
	if r := runMai(t, dir, env, "models", "switch", "--auto"); r.code != 0 {
		t.Errorf("unpin: %+v", r)
	}
	st = runMai(t, dir, env, "status", "--json")
	json.Unmarshal([]byte(st.stdout), &rep)
	if rep.PinnedRef != "" {
		t.Errorf("still pinned: %q", rep.PinnedRef)
	}
}

func TestModelsErrors(t *testing.T) {
	srv, dir, env := lmStudioEnv(t)
	r := runMai(t, dir, env, "models", "switch", "lmstudio:nope")
	if r.code != 1 || !strings.Contains(r.stderr, "qwen/qwen3-8b") {
		t.Errorf("unknown model should list the available ones: %+v", r)
	}
	if r := runMai(t, dir, env, "models", "frob"); r.code != 2 {
		t.Errorf("unknown subcommand: %+v", r)
	}
	if r := runMai(t, dir, env, "models", "switch"); r.code != 2 {
		t.Errorf("switch without a model: %+v", r)
	}
	// One answer cut off: the router retries once on the next model, with a notice.
	srv.Script(lmstudiotest.Reply{Chunks: []string{"cut ", "off"}, CutAfter: 1}, lmstudiotest.Reply{Chunks: []string{"whole answer"}})
	c := runMai(t, dir, env, "chat", "--once", "hi")
	if c.code != 0 || c.stdout != "whole answer\n" || !strings.Contains(c.stderr, "stopped in the middle of the answer") {
		t.Errorf("failover: %+v", c)
	}
	// Both cut off: an error, not a silently short answer.
	srv.Script(lmstudiotest.Reply{Chunks: []string{"cut ", "off"}, CutAfter: 1}, lmstudiotest.Reply{Chunks: []string{"again ", "cut"}, CutAfter: 1})
	c = runMai(t, dir, env, "chat", "--once", "hi")
	if c.code != 1 || !strings.Contains(c.stderr, "mai:") {
		t.Errorf("a stream cut twice must be an error: %+v", c)
	}
	// Without a terminal, chat answers the lines of stdin: none here.
	if r := runMai(t, dir, env, "chat"); r.code != 0 || r.stdout != "" {
		t.Errorf("chat with an empty stdin: %+v", r)
	}
	down := map[string]string{"MAI_DATA_DIR": env["MAI_DATA_DIR"], "LMSTUDIO_ENDPOINT": "http://127.0.0.1:9", "OLLAMA_ENDPOINT": "http://127.0.0.1:9", "GPU_VRAM_AVAILABLE": "8"}
	if r := runMai(t, dir, down, "models", "list"); r.code != 1 || !strings.Contains(r.stderr, "no model backend is reachable") {
		t.Errorf("nothing reachable: %+v", r)
	}
}

// A backend that accepts connections and never answers is reported as
// unreachable; status does not wait for it indefinitely.
func TestStatusWithSilentBackend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	_, dir, env := lmStudioEnv(t)
	env["OLLAMA_ENDPOINT"] = "http://" + ln.Addr().String()
	r := runMai(t, dir, env, "status", "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	for _, ep := range rep.Plan.Endpoints {
		if ep.Backend == "ollama" && (ep.Reachable || ep.Error == "") {
			t.Errorf("the silent Ollama should be unreachable with a reason: %+v", ep)
		}
		if ep.Backend == "lmstudio" && !ep.Reachable {
			t.Errorf("LM Studio should still be listed as reachable: %+v", ep)
		}
	}
}
