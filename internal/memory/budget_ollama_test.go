package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollamaAPI speaks Ollama's documented API for the budget test: the model's
// vocabulary from /api/show, and the server's own count of a prompt.
type ollamaAPI struct{ url string }

func (o ollamaAPI) post(ctx context.Context, path string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ollama %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (o ollamaAPI) Vocabulary(ctx context.Context, model string) (llm.Vocabulary, error) {
	var r struct {
		ModelInfo struct {
			Kind   string   `json:"tokenizer.ggml.model"`
			Tokens []string `json:"tokenizer.ggml.tokens"`
		} `json:"model_info"`
	}
	err := o.post(ctx, "/api/show", map[string]any{"model": model, "verbose": true}, &r)
	return llm.Vocabulary{Kind: r.ModelInfo.Kind, Tokens: r.ModelInfo.Tokens}, err
}

// noVocabulary stands for a backend that cannot say (LM Studio).
type noVocabulary struct{}

func (noVocabulary) Vocabulary(context.Context, string) (llm.Vocabulary, error) {
	return llm.Vocabulary{}, fmt.Errorf("no vocabulary here")
}

// promptTokens sends the assembled turns to the model and returns how many
// tokens Ollama counted for the prompt. num_ctx is the model's whole
// context, so Ollama does not cut an overlong prompt down before counting.
func (o ollamaAPI) promptTokens(ctx context.Context, model string, c Context) (int, error) {
	var msgs []map[string]string
	for _, t := range c.Turns {
		msgs = append(msgs, map[string]string{"role": string(t.Role), "content": t.Content})
	}
	var r struct {
		PromptEvalCount int `json:"prompt_eval_count"`
	}
	err := o.post(ctx, "/api/chat", map[string]any{"model": model, "messages": msgs, "stream": false,
		"options": map[string]any{"num_predict": 1, "num_ctx": 4096}}, &r)
	return r.PromptEvalCount, err
}

// budgetStore is a store with history enough to fill any of the windows:
// an old conversation to recall from, facts, and a long current one. Each
// window gets a fresh one: assembling folds old turns for good.
func budgetStore(t *testing.T, o Options, now time.Time) (*Store, int64) {
	s := newStore(t, o)
	old := seedConversation(t, s, "u", 40, now.Add(-30*24*time.Hour))
	appendMsgs(t, s, old, Message{Content: "my dog Biscuit loves the beach", Time: now.Add(-29 * 24 * time.Hour)})
	for i := range 30 {
		if _, err := s.Remember(context.Background(), Fact{User: "u", Subject: "garden", Statement: fmt.Sprintf("grows tomato variety %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	conv := seedConversation(t, s, "u", 200, now.Add(-time.Hour))
	appendMsgs(t, s, conv, Message{Content: "what does Biscuit love? Ça va? 日本語も少し話せます"})
	return s, conv
}

// TestAssembleNeverOverBudgetOnOllama checks the budget against an
// independent count: the real Ollama's prompt_eval_count for the turns
// Assemble returned. The tiny model's vocabulary is mostly single
// characters, several times more tokens than a generic estimate assumes,
// so the generic estimate overflows — which shows the check can fail —
// while the model's own estimator holds: from its vocabulary before any
// count, from no knowledge at all (one token per byte), and after
// calibrating on the counts Ollama reports.
func TestAssembleNeverOverBudgetOnOllama(t *testing.T) {
	testenv.Short(t, "starts ollama")
	srv := ollamatest.Start(t)
	api := ollamaAPI{srv.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	persona := "You are Mai, a kind companion. " + strings.Repeat("Be brief. ", 20)
	windows := []int{256, 512, 1024, 2048, 3072}

	assemble := func(s *Store, conv int64, window int, model string) (Context, int) {
		t.Helper()
		c, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: persona, Window: window, Model: model})
		if err != nil {
			t.Fatalf("window %d: %v", window, err)
		}
		n, err := api.promptTokens(ctx, ollamatest.ChatModel, c)
		if err != nil {
			t.Fatal(err)
		}
		return c, n
	}

	t.Run("generic estimate overflows", func(t *testing.T) {
		over := 0
		for _, w := range windows {
			s, conv := budgetStore(t, Options{Now: func() time.Time { return now }}, now)
			c, n := assemble(s, conv, w, "")
			t.Logf("window %d: budget %d, generic estimate %d, Ollama counted %d", w, c.Budget, c.Tokens, n)
			if n > c.Budget {
				over++
			}
		}
		if over == 0 {
			t.Fatal("the generic estimate fitted every window on the tiny model: the count cannot tell a wrong estimate")
		}
	})
	for _, tc := range []struct {
		name      string
		src       VocabularySource
		calibrate bool
	}{
		{"from the vocabulary", api, false},
		{"from nothing", noVocabulary{}, false},
		{"calibrated on reported counts", noVocabulary{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range windows {
				s, conv := budgetStore(t, Options{Now: func() time.Time { return now }, Vocabularies: tc.src}, now)
				if tc.calibrate {
					// A few answers' worth of counts, as the chat core
					// reports them, in another conversation.
					other := seedConversation(t, s, "u", 60, now.Add(-2*time.Hour))
					for _, cw := range []int{300, 700, 1500} {
						c, n := assemble(s, other, cw, ollamatest.ChatModel)
						var texts []string
						for _, t := range c.Turns {
							texts = append(texts, t.Content)
						}
						s.ObservePrompt(ctx, ollamatest.ChatModel, texts, n)
					}
				}
				c, n := assemble(s, conv, w, ollamatest.ChatModel)
				t.Logf("window %d: budget %d, estimated %d, Ollama counted %d (%d turns)", w, c.Budget, c.Tokens, n, len(c.Turns))
				if n > c.Budget {
					t.Errorf("window %d: Ollama counted %d prompt tokens, over the budget of %d (estimated %d)", w, n, c.Budget, c.Tokens)
				}
				// A budget kept by sending almost nothing is no budget.
				if w >= 1024 && n < c.Budget/2 {
					t.Errorf("window %d: only %d of %d tokens used", w, n, c.Budget)
				}
			}
		})
	}
}
