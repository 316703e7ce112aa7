package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/testenv"
)

func TestSocketPath(t *testing.T) {
	if got := SocketPath("/home/ann/.local/share/mai", "/run/user/1000"); got != "/home/ann/.local/share/mai/mai.sock" {
		t.Errorf("short data dir: %s", got)
	}
	long := "/home/ann/" + strings.Repeat("deep/", 25) + "mai"
	a := SocketPath(long, "/run/user/1000")
	if !strings.HasPrefix(a, "/run/user/1000/mai-") || !strings.HasSuffix(a, ".sock") || len(a) != len("/run/user/1000/mai-123456789abc.sock") {
		t.Errorf("long data dir: %s", a)
	}
	if b := SocketPath(long+"2", "/run/user/1000"); b == a {
		t.Error("two data dirs share a socket")
	}
	if a2 := SocketPath(long, "/run/user/1000"); a2 != a {
		t.Error("the fallback path is not stable")
	}
}

// The socket is created with mode 0600, a stale one is replaced, a live
// one refused, and the peer's uid is read from the kernel.
func TestListenModeAndPeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mai.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // a crashed daemon's socket file stays behind
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", fi.Mode(), err)
	}
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("a second Listen = %v", err)
	}
	go func() {
		c, err := net.Dial("unix", path)
		if err == nil {
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if uid, err := peerUID(c.(*net.UnixConn)); err != nil || uid != os.Getuid() {
		t.Errorf("peer uid = %d, %v; want %d", uid, err, os.Getuid())
	}
}

// daemon serves a real chat core over a fake LM Studio on a socket.
func daemon(t *testing.T, auth func(*http.Request, string) error) (*lmstudiotest.Server, *Client, context.CancelFunc, chan error) {
	return daemonWith(t, auth, nil, nil)
}

// daemonWith is daemon with code running through sb's gate, whose approvals
// the core asks for.
func daemonWith(t *testing.T, auth func(*http.Request, string) error, sb func(sandbox.Approver) chat.CodeRunner, checkPIN func(context.Context, string) error) (*lmstudiotest.Server, *Client, context.CancelFunc, chan error) {
	t.Helper()
	srv := lmstudiotest.New(t, lmstudiotest.Model{Key: "m", SizeBytes: 1 << 30, ParamsString: "1B", ToolUse: true})
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{{Backend: lmstudio.New(lmstudio.Config{Endpoint: srv.URL}), Pool: "gpu"}},
		Pools:     []router.Pool{{Name: "gpu", Bytes: 8 << 30}},
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "mai.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var core *chat.Core
	var code chat.CodeRunner
	if sb != nil {
		code = sb(approverFunc(func(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
			return core.Approve(ctx, req)
		}))
	}
	core, err = chat.New(chat.Config{Models: chat.FromRouter(r), Memory: memory.New(db, memory.Options{}), Code: code, CheckPIN: checkPIN})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mai.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s := &Server{Core: core, User: "owner", Authorize: auth}
	go func() { done <- s.Serve(ctx, ln, 50*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv, NewClient(path), cancel, done
}

// A message's answer streams back as events, ending cleanly; a command's
// error comes back as the error; the Authorize hook can refuse.
func TestSendStreamsTheAnswer(t *testing.T) {
	srv, cl, _, _ := daemon(t, func(r *http.Request, action string) error {
		if action == ActionDecide {
			return errors.New("PIN needed")
		}
		return nil
	})
	ctx := context.Background()
	if err := cl.Ping(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	srv.Script(lmstudiotest.Reply{Chunks: []string{"one ", "two"}})
	var text strings.Builder
	var done bool
	err := cl.Send(ctx, chat.Message{Text: "count"}, func(ev chat.Event) {
		if ev.Kind == chat.EventText {
			text.WriteString(ev.Text)
		}
		done = done || ev.Kind == chat.EventDone
	})
	if err != nil || text.String() != "one two" || !done {
		t.Fatalf("send = %v, %q, done %v", err, text.String(), done)
	}
	if err := cl.Send(ctx, chat.Message{Text: "/nonsense"}, func(chat.Event) {}); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("command error = %v", err)
	}
	if err := cl.Decide(ctx, "job", true, ""); err == nil || !strings.Contains(err.Error(), "PIN needed") {
		t.Errorf("decide without PIN = %v", err)
	}
}

// The daemon stopping in the middle of an answer gives the client a clear
// error at once, not a hang; with no daemon, the client says so.
func TestDaemonStopsMidStream(t *testing.T) {
	srv, cl, stop, done := daemon(t, nil)
	srv.SetChunkDelay(50 * time.Millisecond)
	chunks := make([]string, 400)
	for i := range chunks {
		chunks[i] = "x "
	}
	srv.Script(lmstudiotest.Reply{Chunks: chunks})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	err := cl.Send(ctx, chat.Message{Text: "go on"}, func(ev chat.Event) {
		if ev.Kind == chat.EventText {
			stop()
		}
	})
	if !errors.Is(err, ErrDaemonGone) {
		t.Fatalf("err = %v, want ErrDaemonGone", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("noticing took %s", d)
	}
	<-done
	done <- nil // for the cleanup
	if err := cl.Ping(ctx, time.Second); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("ping after stop = %v", err)
	}
}

type approverFunc func(context.Context, sandbox.ApprovalRequest) (sandbox.Approval, error)

func (f approverFunc) Approve(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
	return f(ctx, req)
}

// Code the gate judges HIGH, run through the daemon: the approval request
// reaches the client as an event in the answer's stream, the client's
// decision goes back over the socket, and the code runs.
func TestApprovalThroughTheSocket(t *testing.T) {
	testenv.Short(t, "runs a container in the real Docker engine")
	image := os.Getenv("MAI_TEST_PYTHON_IMAGE")
	if image == "" {
		image = "mai-test/python:3-bookworm"
	}
	srv, cl, _, _ := daemonWith(t, nil, func(a sandbox.Approver) chat.CodeRunner {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sb, err := sandbox.New(ctx, sandbox.Options{Image: image, Approver: a})
		if err != nil {
			testenv.Missing(t, "dockerd", err.Error(), "run 'eval \"$(.ci/docker.sh)\"' as root")
		}
		t.Cleanup(func() { sb.Close() })
		return sb
	}, nil)
	args, _ := json.Marshal(map[string]string{"language": "python", "code": "import subprocess\nsubprocess.run(['echo', 'approved'])\n"})
	srv.Script(lmstudiotest.Reply{ToolCalls: []lmstudiotest.ToolCall{{ID: "c1", Name: "run_code", Arguments: string(args)}}}, lmstudiotest.Reply{Chunks: []string{"done"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	asked := 0
	err := cl.Send(ctx, chat.Message{Text: "run it"}, func(ev chat.Event) {
		if ev.Kind == chat.EventApproval {
			asked++
			if err := cl.Decide(ctx, ev.Approval.ID, true, ""); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil || asked != 1 {
		t.Fatalf("send: %v; asked %d times", err, asked)
	}
	reqs := srv.ChatRequests()
	last := reqs[len(reqs)-1].Messages
	if out := last[len(last)-1].Content; !strings.Contains(out, "approved") || !strings.Contains(out, "exit code 0") {
		t.Errorf("tool result = %q", out)
	}
}

// A command that changes state reaches the core with the PIN the client
// sent in the header, and without it the client gets ErrPINRequired back,
// so the front end can ask and send again.
func TestStateChangingCommandCarriesThePIN(t *testing.T) {
	var got []string
	_, cl, _, _ := daemonWith(t, nil, nil, func(_ context.Context, pin string) error {
		got = append(got, pin)
		if pin != "2468" {
			return fmt.Errorf("%w: wrong PIN", chat.ErrPINRequired)
		}
		return nil
	})
	ctx := context.Background()
	if err := cl.Send(ctx, chat.Message{Text: "/pause"}, func(chat.Event) {}); !errors.Is(err, chat.ErrPINRequired) {
		t.Errorf("/pause without the PIN = %v", err)
	}
	var reply string
	err := cl.Send(ctx, chat.Message{Text: "/pause", PIN: "2468"}, func(ev chat.Event) {
		if ev.Kind == chat.EventReply {
			reply = ev.Text
		}
	})
	if err != nil || !strings.HasPrefix(reply, "paused") {
		t.Errorf("/pause with the PIN = %v, %q", err, reply)
	}
	if len(got) != 2 || got[0] != "" || got[1] != "2468" {
		t.Errorf("the core saw PINs %q", got)
	}
}
