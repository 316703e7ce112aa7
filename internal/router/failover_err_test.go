package router

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
)

// When the model that should take over fails too, the error keeps both
// causes for errors.Is: the first failure, and the takeover's (here a
// cancellation, which a caller must be able to tell from a broken backend).
func TestFailedTakeoverKeepsBothCauses(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("qwen2.5:14b", 14, 9))
	lms := newFake("lmstudio", c, chatModel("qwen/qwen3-8b", 8, 5))
	s := newSetup(t, 24, nil, ollama, lms)
	truncated := &llm.Error{Kind: llm.ErrStreamTruncated, Msg: "cut"}
	ollama.queue(reply{text: []string{"par"}, midErr: truncated})
	lms.queue(reply{startErr: fmt.Errorf("lmstudio chat: %w", context.Canceled)})
	_, _, err := s.chat()
	if !errors.Is(err, llm.ErrStreamTruncated) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want it to match both llm.ErrStreamTruncated and context.Canceled", err)
	}
}
