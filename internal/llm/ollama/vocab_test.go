package ollama

import (
	"errors"
	"slices"
	"testing"

	"github.com/maicompanion/mai/internal/gguf"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
)

// Vocabulary gives back the tokens of the GGUF file we generated, in order.
func TestVocabulary(t *testing.T) {
	c := realClient(t)
	want, _, _ := gguf.TinyVocabulary()
	v, err := c.Vocabulary(ctxT(t), ollamatest.ChatModel)
	if err != nil || v.Kind != "llama" || !slices.Equal(v.Tokens, want) {
		t.Fatalf("kind %q, %d tokens (want %d), %v", v.Kind, len(v.Tokens), len(want), err)
	}
	var nf *llm.ModelNotFoundError
	if _, err := c.Vocabulary(ctxT(t), "no-such-model"); !errors.As(err, &nf) {
		t.Errorf("unknown model: %v", err)
	}
}
