package chat_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/chat"
)

// With a PIN stored, commands that change state ask for it and change
// nothing without it; commands that only read do not ask.
func TestStateChangingCommandsNeedThePIN(t *testing.T) {
	_, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	checks := 0
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, CheckPIN: func(_ context.Context, pin string) error {
		checks++
		if pin != "2468" {
			return fmt.Errorf("%w: wrong PIN", chat.ErrPINRequired)
		}
		return nil
	}})
	ctx := context.Background()
	if _, err := send(t, c, "u1", "hello"); err != nil {
		t.Fatal(err)
	}
	old, _ := c.Conversation(ctx, "u1")
	for _, cmd := range []string{"/clear", "/forget", "/forget all yes", "/pause", "/resume", "/switch lmstudio:small"} {
		ev, err := send(t, c, "u1", cmd)
		if !errors.Is(err, chat.ErrPINRequired) || !strings.Contains(ev.text(chat.EventError), "PIN") {
			t.Errorf("%s without the PIN = %v, events %v", cmd, err, ev.kinds())
		}
	}
	if cur, _ := c.Conversation(ctx, "u1"); cur != old {
		t.Error("/clear without the PIN started a new conversation")
	}
	if ms, _ := mem.Messages(ctx, old, 0, 0); len(ms) != 2 {
		t.Errorf("/forget without the PIN left %d of 2 messages", len(ms))
	}
	before := checks
	for _, cmd := range []string{"/status", "/help", "/facts", "/models"} {
		if _, err := send(t, c, "u1", cmd); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	ev, _ := send(t, c, "u1", "/status")
	if checks != before || !strings.Contains(ev.text(chat.EventReply), "paused: false") {
		t.Errorf("reading commands asked for the PIN (%d checks) or /pause ran: %q", checks-before, ev.text(chat.EventReply))
	}
	if err := c.Send(ctx, chat.Message{User: "u1", Text: "/clear", PIN: "2468"}, func(chat.Event) {}); err != nil {
		t.Fatalf("/clear with the PIN: %v", err)
	}
	if cur, _ := c.Conversation(ctx, "u1"); cur == old {
		t.Error("/clear with the PIN kept the conversation")
	}
}
