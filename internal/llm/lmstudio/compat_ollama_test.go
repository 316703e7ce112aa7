package lmstudio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollamaSrv is one real Ollama for this package's tests of the
// OpenAI-compatible client against Ollama's /v1.
var ollamaSrv = &ollamatest.Shared{}

func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, ollamaSrv)) }

func ollamaCompat(t *testing.T) *lmstudio.Compat {
	t.Helper()
	testenv.Short(t, "needs a real ollama serve")
	srv := ollamaSrv.Server(t)
	return lmstudio.NewCompat(lmstudio.CompatConfig{Endpoint: srv.URL(), Label: "Ollama", StartCommand: "ollama serve", LogHint: "ollama serve's output"})
}

func TestCompatOnOllama(t *testing.T) {
	c := ollamaCompat(t)
	req := llm.Request{
		Model:    ollamatest.ChatModel,
		Messages: []llm.Message{{Role: llm.RoleSystem, Content: "Be brief."}, {Role: llm.RoleUser, Content: "hi"}},
		Tools:    []llm.Tool{{Name: "get_time", Description: "current time", Parameters: []byte(`{"type":"object","properties":{}}`)}},
		Options:  llm.Options{MaxTokens: 12, Temperature: new(0.0), Seed: new(int64(1))},
	}
	s, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var deltas int
	var done *llm.Stats
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case llm.EventText:
			deltas++
		case llm.EventDone:
			done = &ev.Stats
		}
	}
	if deltas < 2 || done == nil {
		t.Fatalf("%d deltas, done %+v: want several deltas then the final event", deltas, done)
	}
	if done.Model != ollamatest.ChatModel || done.FinishReason != "length" || done.CompletionTokens != 12 || done.PromptTokens == 0 || done.TokensPerSecond <= 0 {
		t.Errorf("stats = %+v", *done)
	}
}

func TestCompatOnOllamaCancel(t *testing.T) {
	c := ollamaCompat(t)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := c.Chat(ctx, llm.Request{Model: ollamatest.ChatModel, Messages: []llm.Message{{Role: llm.RoleUser, Content: "go on"}}, Options: llm.Options{MaxTokens: 100000}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		if _, err = s.Next(); err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
}

func TestCompatOnOllamaErrorsAndEmbed(t *testing.T) {
	c := ollamaCompat(t)
	_, err := c.Chat(t.Context(), llm.Request{Model: "no-such-model", Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}})
	var nf *llm.ModelNotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), ollamatest.ChatModel) || !strings.HasPrefix(err.Error(), "Ollama at ") {
		t.Errorf("unknown model: %v", err)
	}
	vecs, err := c.Embed(t.Context(), ollamatest.EmbedModel, []string{"a cat", "a dog"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 2 || len(vecs[0]) == 0 || len(vecs[0]) != len(vecs[1]) {
		t.Errorf("embeddings: %d vectors of %d", len(vecs), len(vecs[0]))
	}
}
