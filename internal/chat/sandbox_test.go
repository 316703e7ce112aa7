package chat_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/testenv"
)

const howToFixDocker = "run 'eval \"$(.ci/docker.sh)\"' as root (installs docker.io, starts dockerd, builds the test images)"

// engineRecorder is a unix socket in front of the real Docker engine that
// forwards everything and records which jobs created containers.
type engineRecorder struct {
	host string
	mu   sync.Mutex
	reqs []string
}

func newEngineRecorder(t *testing.T) *engineRecorder {
	t.Helper()
	real := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		real = strings.TrimPrefix(h, "unix://")
	}
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	e := &engineRecorder{host: "unix://" + sock}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "docker"})
	rp.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", real)
	}}
	rp.FlushInterval = -1
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/_ping") {
			e.mu.Lock()
			e.reqs = append(e.reqs, r.Method+" "+r.URL.Path)
			e.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return e
}

func (e *engineRecorder) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.reqs)
}

func (e *engineRecorder) created() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, r := range e.reqs {
		if strings.HasPrefix(r, "POST ") && strings.HasSuffix(r, "/containers/create") {
			n++
		}
	}
	return n
}

// run_code through the real risk gate and the real sandbox: LOW runs and
// its output goes back to the model; HIGH waits for the owner's approval
// (asked through the turn's events); BLOCKED never reaches Docker and the
// model is told why.
func TestRunCodeThroughGateAndSandbox(t *testing.T) {
	testenv.Short(t, "runs containers in the real Docker engine")
	rec := newEngineRecorder(t)
	image := os.Getenv("MAI_TEST_PYTHON_IMAGE")
	if image == "" {
		image = "mai-test/python:3-bookworm"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	var core *chat.Core
	sb, err := sandbox.New(ctx, sandbox.Options{Host: rec.host, Image: image, Approver: approverOf(func() *chat.Core { return core })})
	if err != nil {
		testenv.Missing(t, "dockerd", err.Error(), howToFixDocker)
	}
	t.Cleanup(func() { sb.Close() })
	if st, err := sb.ImageStatus(ctx, image); err != nil || !st.Present {
		testenv.Missing(t, "test image "+image, "not built on this engine", howToFixDocker)
	}
	core = newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, Code: sb})
	runCall := func(lang, code string) lmstudiotest.Reply {
		args, _ := json.Marshal(map[string]string{"language": lang, "code": code})
		return lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "run_code", Arguments: string(args)}}}
	}
	lastToolResult := func() string {
		reqs := srv.ChatRequests()
		m := reqs[len(reqs)-1].Messages
		return m[len(m)-1].Content
	}

	// LOW: runs, the output is the tool result.
	srv.Script(runCall("python", "print(6 * 7)\n"), lmstudiotest.Reply{Chunks: []string{"It is 42."}})
	ev, err := send(t, core, "owner", "what is 6 times 7? run it")
	if err != nil {
		t.Fatal(err)
	}
	if out := lastToolResult(); !strings.Contains(out, "exit code 0") || !strings.Contains(out, "42") {
		t.Errorf("tool result = %q", out)
	}
	if !strings.Contains(ev.text(chat.EventTool), "ran python: exit 0") || rec.created() == 0 {
		t.Errorf("tool lines %q; containers created %d", ev.text(chat.EventTool), rec.created())
	}
	var shown []string
	for _, e := range ev.evs {
		if e.Kind == chat.EventTool && e.Tool.Status == "done" {
			shown = append(shown, e.Tool.Output)
		}
	}
	if len(shown) != 1 || shown[0] != "42\n" {
		t.Errorf("the owner was shown the outputs %q, want [\"42\\n\"]", shown)
	}

	// HIGH: an approval event, answered yes, then it runs.
	srv.Script(runCall("python", "import subprocess\nsubprocess.run(['echo', 'approved'])\n"), lmstudiotest.Reply{Chunks: []string{"done"}})
	ev = &events{}
	ev.on = func(e chat.Event) {
		if e.Kind == chat.EventApproval {
			if err := core.Decide(ctx, "owner", e.Approval.ID, true, ""); err != nil {
				t.Error(err)
			}
		}
	}
	if err := core.Send(ctx, chat.Message{User: "owner", Text: "run a command", MaxTokens: 16}, ev.emit); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(kindsOf(ev), " "), "approval"); n != 1 {
		t.Errorf("%d approval events", n)
	}
	if out := lastToolResult(); !strings.Contains(out, "approved") {
		t.Errorf("approved HIGH job: tool result = %q", out)
	}

	// BLOCKED: refused before Docker, the model told why.
	before := rec.count()
	srv.Script(runCall("sh", "rm -rf /\n"), lmstudiotest.Reply{Chunks: []string{"I will not."}})
	ev, err = send(t, core, "owner", "wipe the disk")
	if err != nil {
		t.Fatal(err)
	}
	if out := lastToolResult(); !strings.Contains(out, "not run") || !strings.Contains(out, "BLOCKED") {
		t.Errorf("blocked job: tool result = %q", out)
	}
	if strings.Contains(strings.Join(kindsOf(ev), " "), "approval") {
		t.Error("a BLOCKED job asked for approval")
	}
	if n := rec.count() - before; n != 0 {
		t.Errorf("the BLOCKED job sent %d requests to Docker", n)
	}

	// /run with an untagged block: the risk analyser's detection picks
	// the language; Go cannot run here and says so.
	srv.Script(lmstudiotest.Reply{Chunks: []string{"ok"}})
	ev, err = send(t, core, "owner", "/run\n```\necho from-the-shell\n```")
	if err != nil || !strings.Contains(ev.text(chat.EventTool), "ran sh: exit 0") {
		t.Errorf("/run: %v, %q", err, ev.text(chat.EventTool))
	}
	srv.Script(lmstudiotest.Reply{Chunks: []string{"ok"}})
	ev, _ = send(t, core, "owner", "/run\n```go\npackage main\nfunc main() {}\n```")
	if !strings.Contains(ev.text(chat.EventTool), "cannot run this here") {
		t.Errorf("/run go: %q", ev.text(chat.EventTool))
	}
}

// An image the engine lacks is pulled on first use; when that fails (no
// registry here) the model and the owner are told, and nothing runs.
func TestRunCodeWithoutTheImage(t *testing.T) {
	testenv.Short(t, "talks to the real Docker engine")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Options{Image: "mai-test/absent:1"})
	if err != nil {
		testenv.Missing(t, "dockerd", err.Error(), howToFixDocker)
	}
	t.Cleanup(func() { sb.Close() })
	srv, r := fakeLMStudio(t)
	core := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: openMemory(t, dbPath(t)), Code: sb})
	args, _ := json.Marshal(map[string]string{"language": "sh", "code": "echo hi\n"})
	srv.Script(lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "run_code", Arguments: string(args)}}}, lmstudiotest.Reply{Chunks: []string{"sorry"}})
	ev, err := send(t, core, "owner", "run it")
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1].Messages
	if out := last[len(last)-1].Content; !strings.Contains(out, "sandbox is not ready") || !strings.Contains(out, "pull mai-test/absent:1") {
		t.Errorf("tool result = %q", out)
	}
	if !strings.Contains(ev.text(chat.EventTool), "pull mai-test/absent:1") {
		t.Errorf("the owner was not told: %q", ev.text(chat.EventTool))
	}
}

func kindsOf(e *events) []string {
	var out []string
	for _, k := range e.kinds() {
		out = append(out, string(k))
	}
	return out
}

// approverOf lets the sandbox be built before the core that answers it.
type approverOf func() *chat.Core

func (a approverOf) Approve(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
	return a().Approve(ctx, req)
}
