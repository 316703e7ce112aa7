package router

import (
	"context"
	"errors"
	"fmt"

	"github.com/maicompanion/mai/internal/llm"
)

// vocabularies is what a backend offers when it can say which tokens a
// model's tokenizer has (Ollama can; LM Studio's API does not).
type vocabularies interface {
	Vocabulary(ctx context.Context, model string) (llm.Vocabulary, error)
}

// ErrNoVocabulary means no backend can give the model's vocabulary.
var ErrNoVocabulary = errors.New("no backend exposes this model's tokenizer vocabulary")

// Vocabulary returns the tokenizer vocabulary of the model named ref
// ("ollama:qwen3:8b", or a bare name), from the first endpoint whose
// backend matches and exposes vocabularies, so memory can count tokens
// as that model does. It satisfies memory.VocabularySource.
func (r *Router) Vocabulary(ctx context.Context, ref string) (llm.Vocabulary, error) {
	kinds := make([]string, len(r.eps))
	for i, ep := range r.eps {
		kinds[i] = ep.be.Name()
	}
	prefs := ParsePreferences([]string{ref}, kinds)
	if len(prefs) == 0 {
		return llm.Vocabulary{}, fmt.Errorf("vocabulary: no model named")
	}
	var errs []error
	for _, ep := range r.eps {
		src, ok := ep.be.(vocabularies)
		if !ok || (prefs[0].Backend != "" && prefs[0].Backend != ep.be.Name()) {
			continue
		}
		v, err := src.Vocabulary(ctx, prefs[0].Model)
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return llm.Vocabulary{}, fmt.Errorf("vocabulary of %s: %w", ref, errors.Join(errs...))
	}
	return llm.Vocabulary{}, fmt.Errorf("%s: %w", ref, ErrNoVocabulary)
}
