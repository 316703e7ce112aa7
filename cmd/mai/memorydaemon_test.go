package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// The memory commands that change state go to the running daemon through
// its control socket, so that its chat core sees the change: after `mai
// memory forget` the daemon's next answer starts a conversation afresh,
// without the forgotten words (run in its own process, forget left the
// daemon writing to a conversation that was gone). Import and compress go
// the same way; the daemon checks the PIN and audits the changes, and its
// errors reach the command as the ones it branches on.
func TestMemoryCommandsThroughTheDaemon(t *testing.T) {
	srv, dir, env := lmStudioEnv(t)
	env["MAI_FACTS_EVERY"] = "0"
	if r := runMaiStdin(t, dir, env, "2468\n", "pin", "set"); r.code != 0 {
		t.Fatalf("pin set: %+v", r)
	}
	out := serveDaemon(t, dir, env)
	srv.Script(lmstudiotest.Reply{Chunks: []string{"noted"}})
	if r := runMai(t, dir, env, "chat", "--once", "my locker code is 4417"); r.code != 0 {
		t.Fatalf("chat: %+v\n%s", r, out)
	}
	file := filepath.Join(dir, "local.jsonl")
	if r := runMai(t, dir, env, "memory", "export", "--user", "local", "--output", file); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	if r := runMai(t, dir, env, "memory", "forget", "--user", "local"); r.code != 1 || !strings.Contains(r.stderr, "PIN") {
		t.Fatalf("forget without the PIN: %+v", r)
	}
	env["MAI_PIN"] = "1111"
	if r := runMai(t, dir, env, "memory", "forget", "--user", "local"); r.code != 1 || !strings.Contains(r.stderr, "wrong PIN") {
		t.Fatalf("forget with a wrong PIN: %+v", r)
	}
	env["MAI_PIN"] = "2468"
	if r := runMai(t, dir, env, "memory", "forget", "--user", "local"); r.code != 0 || !strings.Contains(r.stdout, "forgot 2 messages") {
		t.Fatalf("forget: %+v\n%s", r, out)
	}
	srv.Script(lmstudiotest.Reply{Chunks: []string{"hello"}})
	if r := runMai(t, dir, env, "chat", "--once", "hello again"); r.code != 0 {
		t.Fatalf("the daemon's next answer after the forget: %+v\n%s", r, out)
	}
	reqs := srv.ChatRequests()
	for _, m := range reqs[len(reqs)-1].Messages {
		if strings.Contains(m.Content, "4417") {
			t.Errorf("the forgotten message reached the model: %+v", m)
		}
	}
	if r := runMai(t, dir, env, "memory", "import", file); r.code != 1 || !strings.Contains(r.stderr, "already has history") || !strings.Contains(r.stderr, "--merge") {
		t.Errorf("import over the new history: %+v", r)
	}
	if r := runMai(t, dir, env, "memory", "import", "--merge", file); r.code != 0 || !strings.Contains(r.stdout, "imported 2 messages") {
		t.Errorf("import --merge: %+v", r)
	}
	if r := runMai(t, dir, env, "memory", "forget", "--fact", "999"); r.code != 1 || !strings.Contains(r.stderr, "there is no fact 999") {
		t.Errorf("forget an unknown fact: %+v", r)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runMai(t, dir, env, "memory", "import", bad); r.code != 1 || !strings.Contains(r.stderr, "line 1") || !strings.Contains(r.stderr, "fix those lines") {
		t.Errorf("import a malformed file: %+v", r)
	}
	if r := runMai(t, dir, env, "memory", "compress", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"dry_run": false`) {
		t.Errorf("compress: %+v", r)
	}
	var entries []struct{ Action, Subject string }
	r := runMai(t, dir, env, "audit", "list", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("audit list: %v %+v", err, r)
	}
	var got []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "memory.") || strings.HasPrefix(e.Action, "pin.") {
			got = append(got, e.Action+" "+e.Subject)
		}
	}
	if want := "pin.set pin, pin.wrong pin, memory.forget local, memory.import " + file; strings.Join(got, ", ") != want {
		t.Errorf("audited:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	logs, _ := os.ReadFile(filepath.Join(env["MAI_DATA_DIR"], ".logs", "mai.log"))
	for _, route := range []string{"/v1/memory/forget", "/v1/memory/import", "/v1/memory/compress"} {
		if !strings.Contains(string(logs), route) {
			t.Errorf("the daemon did not serve %s", route)
		}
	}
}
