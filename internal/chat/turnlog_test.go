package chat_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// syncBuffer is a log destination safe for the core's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every turn is one info line with user, model, tokens and duration, and
// the log at info holds neither the message nor the answer.
func TestTurnIsOneLogLineWithoutText(t *testing.T) {
	srv, r := fakeLMStudio(t)
	mem := openMemory(t, dbPath(t))
	var logs syncBuffer
	c := newCore(t, chat.Config{Models: chat.FromRouter(r), Memory: mem, FactsEvery: -1, Log: zerolog.New(&logs).Level(zerolog.InfoLevel)})
	srv.Script(lmstudiotest.Reply{Chunks: []string{"Hello", " purple-answer-17"}})
	if _, err := send(t, c, "u1", "my secret is purple-elephant-42"); err != nil {
		t.Fatal(err)
	}
	var turns []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "purple") {
			t.Errorf("the log at info holds message text: %s", line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec["message"] == "turn" {
			turns = append(turns, rec)
		}
	}
	if len(turns) != 1 {
		t.Fatalf("%d turn lines, want 1; log:\n%s", len(turns), logs.String())
	}
	tl := turns[0]
	if tl["level"] != "info" || tl["user"] != "u1" || tl["model"] != "big" || tl["completion_tokens"] != 2.0 || tl["outcome"] != "answered" {
		t.Errorf("turn line = %v", tl)
	}
	if d, ok := tl["duration"].(float64); !ok || d <= 0 {
		t.Errorf("duration = %v", tl["duration"])
	}
	if p, ok := tl["prompt_tokens"].(float64); !ok || p <= 0 {
		t.Errorf("prompt_tokens = %v", tl["prompt_tokens"])
	}
}
