package chat_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/sandbox"
)

// awayRunner is a code runner whose engine is away.
type awayRunner struct{ runs int }

func (a *awayRunner) Run(context.Context, sandbox.Job) (sandbox.Result, error) {
	a.runs++
	return sandbox.Result{}, errors.New("should not be called")
}

func (a *awayRunner) EnsureImage(context.Context, string, func(sandbox.PullProgress)) error {
	return errors.New("should not be called")
}

func (a *awayRunner) Unavailable() error {
	return errors.New("Docker does not answer; Mai tries again by itself")
}

// /run while the sandbox is away answers why, without asking the model or
// the runner.
func TestRunWhileTheSandboxIsAway(t *testing.T) {
	srv, r := fakeLMStudio(t)
	code := &awayRunner{}
	core := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: openMemory(t, dbPath(t)), Code: code})
	var ev events
	if err := core.Send(context.Background(), chat.Message{User: "owner", Text: "/run\n```python\nprint(1)\n```"}, ev.emit); err != nil {
		t.Fatal(err)
	}
	got := ev.text(chat.EventReply)
	if !strings.Contains(got, "I cannot run code now: Docker does not answer; Mai tries again by itself") {
		t.Errorf("reply %q", got)
	}
	if code.runs != 0 || len(srv.ChatRequests()) != 0 {
		t.Errorf("%d runs, %d model requests; want none", code.runs, len(srv.ChatRequests()))
	}
}
