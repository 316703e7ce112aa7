package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=Owner", "-c", "user.email=owner@example.org"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// warmerPersona makes dir/workspace a git repository with persona.md and
// writes dir/new.md, a warmer persona to propose; env gets the workspace,
// no reviewer and no Docker. It returns the workspace.
func warmerPersona(t *testing.T, dir string, env map[string]string) string {
	t.Helper()
	ws := filepath.Join(dir, "workspace")
	gitT(t, dir, "init", "-q", "-b", "main", ws)
	os.WriteFile(filepath.Join(ws, "persona.md"), []byte("You are Mai.\n"), 0o644)
	gitT(t, ws, "add", "-A")
	gitT(t, ws, "commit", "-qm", "start")
	os.WriteFile(filepath.Join(dir, "new.md"), []byte("You are Mai, and warm.\n"), 0o644)
	env["MAI_WORKSPACE"], env["MAI_REVIEWER"], env["DOCKER_HOST"] = ws, "none", "unix://"+filepath.Join(dir, "no-docker.sock")
	return ws
}

// A persona change proposed by hand: review (none configured here), checks
// (no Docker here: unavailable), the approval, one commit with every
// trailer, a verified audit log, and a revert through the same pipeline.
func TestSelfmodProposeApproveRevert(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	ws := warmerPersona(t, dir, env)

	res := runMai(t, dir, env, "selfmod", "propose", "--no-wait", "--message", "a warmer persona", "new.md:persona.md")
	if res.code != 0 {
		t.Fatalf("propose: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	m := regexp.MustCompile(`proposal (\S+) waits for approval request (\S+):`).FindStringSubmatch(res.stdout)
	if m == nil || !strings.Contains(res.stdout, "review (none): unavailable") || !strings.Contains(res.stdout, "checks: unavailable") {
		t.Fatalf("propose output:\n%s", res.stdout)
	}
	id, req := m[1], m[2]
	if got := gitT(t, ws, "rev-list", "--count", "main"); got != "1" {
		t.Fatal("committed before approval")
	}
	res = runMai(t, dir, env, "approvals", "approve", req)
	if res.code != 0 || !strings.Contains(res.stdout, "proposal "+id+" committed") {
		t.Fatalf("approve: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "persona.md")); string(b) != "You are Mai, and warm.\n" {
		t.Fatalf("persona: %q", b)
	}
	trailers := gitT(t, ws, "log", "-1", "--format=%(trailers:only,unfold)")
	for _, k := range []string{"Mai-Approval-Id: " + req, "Mai-Approved-By: local (terminal)", "Mai-Risk: LOW", "Mai-Review: none-available",
		"Mai-Change-Sha256: ", "Mai-Requested-In: cli"} {
		if !strings.Contains(trailers, k) {
			t.Errorf("trailer %q missing:\n%s", k, trailers)
		}
	}
	res = runMai(t, dir, env, "selfmod", "list", "--json")
	var list []struct {
		ID, State, Commit string
	}
	if err := json.Unmarshal([]byte(res.stdout), &list); err != nil || len(list) != 1 || list[0].ID != id || list[0].State != "committed" {
		t.Fatalf("list: %v %s", err, res.stdout)
	}
	res = runMai(t, dir, env, "selfmod", "show", id)
	if res.code != 0 || !strings.Contains(res.stdout, "+You are Mai, and warm.") || !strings.Contains(res.stdout, "state          committed") {
		t.Fatalf("show:\n%s", res.stdout)
	}
	if res = runMai(t, dir, env, "audit", "verify"); res.code != 0 {
		t.Fatalf("audit verify: %s %s", res.stdout, res.stderr)
	}

	res = runMai(t, dir, env, "selfmod", "revert", "--no-wait", list[0].Commit)
	m = regexp.MustCompile(`waits for approval request (\S+):`).FindStringSubmatch(res.stdout)
	if res.code != 0 || m == nil {
		t.Fatalf("revert: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res = runMai(t, dir, env, "approvals", "approve", m[1]); res.code != 0 {
		t.Fatalf("approve revert: %s %s", res.stdout, res.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "persona.md")); string(b) != "You are Mai.\n" {
		t.Fatalf("after revert: %q", b)
	}
	if got := gitT(t, ws, "rev-list", "--count", "main"); got != "3" {
		t.Fatalf("%s commits", got)
	}
	for _, bad := range [][]string{{"selfmod", "propose", "--message", "x", "new.md:../out.md"}, {"selfmod", "propose", "new.md:persona.md"}} {
		if res = runMai(t, dir, env, bad...); res.code == 0 || strings.Count(strings.TrimSpace(res.stderr), "\n") > 3 {
			t.Fatalf("%v: %d %s", bad, res.code, res.stderr)
		}
	}
}

// mai doctor names the active reviewer and whether it answers.
func TestDoctorShowsTheReviewer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/global/health" {
			w.Write([]byte(`{"healthy":true,"version":"1.0.0"}`))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	for _, tt := range []struct {
		env    map[string]string
		status string
		detail string
	}{
		{map[string]string{"MAI_REVIEWER": "opencode", "OPENCODE_URL": srv.URL}, "OK", "opencode:" + srv.URL + " answers"},
		{map[string]string{"MAI_REVIEWER": "opencode", "OPENCODE_URL": "http://127.0.0.1:9"}, "FAIL", "does not answer"},
		{map[string]string{"MAI_REVIEWER": "none"}, "WARN", "no review available"},
		{map[string]string{"MAI_REVIEWER": "anthropic"}, "FAIL", "needs ANTHROPIC_API_KEY"},
		{map[string]string{}, "OK", "local model"},
	} {
		tt.env["OLLAMA_ENDPOINT"], tt.env["LMSTUDIO_ENDPOINT"] = "http://127.0.0.1:9", "http://127.0.0.1:9"
		res := runMai(t, "", tt.env, "doctor", "--json")
		var rs []struct{ Name, Status, Detail string }
		if err := json.Unmarshal([]byte(res.stdout), &rs); err != nil {
			t.Fatalf("%v: %s", err, res.stdout)
		}
		found := false
		for _, r := range rs {
			if r.Name == "reviewer" {
				found = true
				if r.Status != tt.status || !strings.Contains(r.Detail, tt.detail) {
					t.Errorf("%v: %s %s", tt.env, r.Status, r.Detail)
				}
			}
		}
		if !found {
			t.Fatalf("no reviewer line: %s", res.stdout)
		}
	}
}

// The "done when": a persona change asked for in mai chat (the
// model's propose_change call scripted, and the local reviewer's answer
// too, through the router) leads to a review and an approval request;
// mai approvals approve makes one commit in the workspace with every
// trailer; the audit log verifies; mai selfmod revert undoes it.
func TestChatProposesAPersonaChange(t *testing.T) {
	srv := lmstudiotest.New(t, lmstudiotest.Model{Key: "qwen/qwen3-8b", ParamsString: "8B", SizeBytes: 5 << 30, ToolUse: true})
	dir := t.TempDir()
	env := map[string]string{
		"MAI_DATA_DIR": filepath.Join(dir, "data"), "LMSTUDIO_ENDPOINT": srv.URL, "OLLAMA_ENDPOINT": "http://127.0.0.1:9",
		"GPU_VRAM_AVAILABLE": "8", "MAI_FACTS_EVERY": "0", "HOME": dir, "DOCKER_HOST": "unix://" + filepath.Join(dir, "no-docker.sock"),
	}
	args, _ := json.Marshal(map[string]any{"subject": "persona: warmer", "rationale": "the owner asked for warmth",
		"files": []map[string]string{{"path": "persona.md", "content": "You are Mai, warm and kind.\n"}}})
	srv.Script(
		lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "propose_change", Arguments: string(args)}}},
		lmstudiotest.Reply{Chunks: []string{`{"verdict":"approve","concerns":[],"summary":"a harmless persona edit"}`}},
		lmstudiotest.Reply{Chunks: []string{"I proposed a warmer persona."}},
	)
	res := runMai(t, dir, env, "chat", "--once", "please be warmer")
	if res.code != 0 || !strings.Contains(res.stdout, "I proposed a warmer persona.") {
		t.Fatalf("chat: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1].Messages
	m := regexp.MustCompile(`request (\w+): change workspace: persona: warmer .*review approve`).FindStringSubmatch(last[len(last)-1].Content)
	if m == nil {
		t.Fatalf("tool result: %q", last[len(last)-1].Content)
	}
	ws := filepath.Join(dir, "data", "workspace")
	before := gitT(t, ws, "rev-list", "--count", "HEAD")
	if res = runMai(t, dir, env, "approvals", "approve", m[1]); res.code != 0 || !strings.Contains(res.stdout, "committed") {
		t.Fatalf("approve: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "persona.md")); string(b) != "You are Mai, warm and kind.\n" {
		t.Fatalf("persona: %q", b)
	}
	if after := gitT(t, ws, "rev-list", "--count", "HEAD"); after != fmt.Sprint(atoi(t, before)+1) {
		t.Fatalf("%s commits before, %s after", before, after)
	}
	trailers := gitT(t, ws, "log", "-1", "--format=%(trailers:only,unfold)")
	for _, k := range []string{"Mai-Approval-Id: " + m[1], "Mai-Review: approve", "Mai-Risk: LOW", "Mai-Requested-In: message "} {
		if !strings.Contains(trailers, k) {
			t.Errorf("trailer %q missing:\n%s", k, trailers)
		}
	}
	if body := gitT(t, ws, "log", "-1", "--format=%b"); !strings.Contains(body, "Requested: please be warmer") {
		t.Errorf("body:\n%s", body)
	}
	if res = runMai(t, dir, env, "audit", "verify"); res.code != 0 {
		t.Fatalf("audit verify: %s %s", res.stdout, res.stderr)
	}
	head := gitT(t, ws, "rev-parse", "HEAD")
	env["MAI_REVIEWER"] = "none"
	res = runMai(t, dir, env, "selfmod", "revert", "--no-wait", head)
	rm := regexp.MustCompile(`waits for approval request (\S+):`).FindStringSubmatch(res.stdout)
	if res.code != 0 || rm == nil {
		t.Fatalf("revert: %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if res = runMai(t, dir, env, "approvals", "approve", rm[1]); res.code != 0 {
		t.Fatalf("approve the revert: %s %s", res.stdout, res.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(ws, "persona.md")); string(b) == "You are Mai, warm and kind.\n" {
		t.Fatal("the revert did not undo the persona change")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
