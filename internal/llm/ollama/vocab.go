package ollama

import (
	"context"
	"net/http"

	"github.com/maicompanion/mai/internal/llm"
)

// Vocabulary returns the model's tokenizer vocabulary, which /api/show
// includes only when asked to be verbose (the token list of a large model
// is a few MB). It returns ErrBadResponse when the model's details carry
// no vocabulary.
func (c *Client) Vocabulary(ctx context.Context, model string) (llm.Vocabulary, error) {
	var r struct {
		ModelInfo struct {
			Kind   string   `json:"tokenizer.ggml.model"`
			Tokens []string `json:"tokenizer.ggml.tokens"`
		} `json:"model_info"`
	}
	body := map[string]any{"model": model, "verbose": true}
	if err := c.call(ctx, c.timeout, http.MethodPost, "/api/show", body, &r); err != nil {
		return llm.Vocabulary{}, c.notFound(ctx, model, err)
	}
	if len(r.ModelInfo.Tokens) == 0 {
		return llm.Vocabulary{}, c.bad("has no tokenizer vocabulary for %s in /api/show", model)
	}
	return llm.Vocabulary{Kind: r.ModelInfo.Kind, Tokens: r.ModelInfo.Tokens}, nil
}
