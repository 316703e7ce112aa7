package router_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/maicompanion/mai/internal/gguf"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/testenv"
)

// The router finds a model's vocabulary on the backend that has it: the
// tokens Ollama gives back are those of the GGUF file we generated.
func TestVocabulary(t *testing.T) {
	testenv.Short(t, "real Ollama")
	c := ollamaClient(t, sharedOllama.Server(t))
	studio := lmstudiotest.New(t, lmstudiotest.Model{Key: "acme/tiny", SizeBytes: 1 << 20})
	r, err := router.New(router.Config{
		Endpoints: []router.Endpoint{{Backend: lmstudio.New(lmstudio.Config{Endpoint: studio.URL}), Pool: "ram"}, {Backend: c, Pool: "ram"}},
		Pools:     []router.Pool{{Name: "ram", Bytes: 8 << 30, CPU: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := gguf.TinyVocabulary()
	for _, ref := range []string{"ollama:" + ollamatest.ChatModel, "mai-tiny-chat"} {
		v, err := r.Vocabulary(t.Context(), ref)
		if err != nil || v.Kind != "llama" || !slices.Equal(v.Tokens, want) {
			t.Errorf("%s: kind %q, %d tokens (want %d), %v", ref, v.Kind, len(v.Tokens), len(want), err)
		}
	}
	var nf *llm.ModelNotFoundError
	if _, err := r.Vocabulary(t.Context(), "ollama:no-such-model"); !errors.As(err, &nf) {
		t.Errorf("unknown model: %v", err)
	}
	if _, err := r.Vocabulary(t.Context(), "lmstudio:acme/tiny"); !errors.Is(err, router.ErrNoVocabulary) {
		t.Errorf("LM Studio cannot say: %v", err)
	}
}
