package memory

import (
	"context"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/maicompanion/mai/internal/llm"
)

// turnOverhead is what a chat template adds around each message (role
// markers, separators): 4 tokens in the llama 3 and ChatML templates.
const turnOverhead = 4

// Estimator counts tokens as one model's tokenizer would, without asking
// the server: ceil((ascii bytes × A + other bytes × O) × margin), plus
// TurnOverhead per message.
//
// Where A, O and the overhead come from, best last:
//   - NewEstimator: A = 0.25 (four bytes of English a token, what BPE
//     vocabularies of 100k–150k tokens — llama 3, qwen, cl100k — give on
//     prose) and one token per 3 bytes of other text (about one per CJK
//     character). A guess for a typical large model; it holds for none in
//     particular.
//   - boundEstimator: one token per byte, the most a byte-fallback
//     tokenizer (SentencePiece with byte fallback, byte-level BPE) can
//     emit, and 16 tokens of template a message. For a model nothing is
//     known about yet.
//   - FromVocabulary: the model's own vocabulary tokenizes a reference
//     text; a margin covers the gap between that greedy count and the
//     real merges.
//   - Observe and ObservePrompt: counts the backend reported. The last 32
//     are kept; A (and, when prompts of different turn counts allow, the
//     overhead) is refitted so that every one of them would have been
//     counted at least as high as the backend counted it, and a 5 % margin
//     covers texts it has not seen.
type Estimator struct {
	mu       sync.Mutex
	ascii    float64 // tokens per ASCII byte (A)
	other    float64 // tokens per non-ASCII byte (O)
	overhead float64 // template tokens per message
	margin   float64 // multiplies A and O in Count
	samples  []sample
}

// sample is one count the backend reported: a text, or a whole prompt of
// turns messages.
type sample struct {
	ascii, other, turns, tokens int
}

// maxSamples bounds the recent counts calibration looks at.
const maxSamples = 32

// Margins over what calibration found: a text the backend has not counted
// may tokenize a little worse than every one it has; a greedy longest-match
// count over a vocabulary is a little better than the real merges.
const (
	observedMargin   = 1.05
	vocabularyMargin = 1.15
)

// NewEstimator returns an estimator with the generic starting ratio.
func NewEstimator() *Estimator {
	return &Estimator{ascii: 0.25, other: 1.0 / 3, overhead: turnOverhead, margin: 1}
}

// boundOverhead is the template cost per message assumed for a model
// nothing is known about: role markers spelt out a character a token.
const boundOverhead = 16

// boundEstimator counts every byte as a token, and boundOverhead per message.
func boundEstimator() *Estimator {
	return &Estimator{ascii: 1, other: 1, overhead: boundOverhead, margin: 1}
}

// Ratio returns the current tokens-per-ASCII-byte ratio.
func (e *Estimator) Ratio() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ascii
}

// TurnOverhead returns the tokens a chat template adds around one message.
func (e *Estimator) TurnOverhead() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(math.Ceil(e.overhead))
}

// Count estimates the tokens of text (at least 1 for non-empty text).
func (e *Estimator) Count(text string) int {
	if text == "" {
		return 0
	}
	ascii, other := split(text)
	e.mu.Lock()
	x := (float64(ascii)*e.ascii + float64(other)*e.other) * e.margin
	e.mu.Unlock()
	return max(int(x+0.999), 1)
}

// Observe records that the backend counted tokens for text alone (an
// answer's completion tokens).
func (e *Estimator) Observe(text string, tokens int) {
	ascii, other := split(text)
	e.add(sample{ascii: ascii, other: other, tokens: tokens})
}

// ObservePrompt records that the backend counted tokens for a prompt made
// of these messages, template included (Ollama's prompt_eval_count, the
// OpenAI API's usage.prompt_tokens).
func (e *Estimator) ObservePrompt(messages []string, tokens int) {
	s := sample{turns: len(messages), tokens: tokens}
	for _, m := range messages {
		a, o := split(m)
		s.ascii += a
		s.other += o
	}
	e.add(s)
}

func (e *Estimator) add(s sample) {
	if s.ascii < 64 || s.tokens <= 0 {
		return // too short to say anything about the ratio
	}
	if s.tokens > s.ascii+s.other+64*(s.turns+1) {
		// More tokens than bytes: no byte-fallback tokenizer counts so,
		// so the count covers more than the text (a reasoning model's
		// hidden thinking, say) and would only inflate the ratio.
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.samples = append(e.samples, s)
	if len(e.samples) > maxSamples {
		e.samples = e.samples[1:]
	}
	e.refit()
}

// refit sets the overhead by least squares when the samples' turn counts
// differ, then A to the least value that counts every sample at least as
// high as the backend did. A prompt's overhead is counted per message and
// once more for the generation prompt. e.mu is held.
func (e *Estimator) refit() {
	if t, ok := e.fitOverhead(); ok {
		e.overhead = t
	}
	a := 0.0
	for _, s := range e.samples {
		rest := float64(s.tokens) - float64(s.other)*e.other
		if s.turns > 0 {
			rest -= e.overhead * float64(s.turns+1)
		}
		a = max(a, rest/float64(s.ascii))
	}
	e.ascii = min(max(a, 0.05), 4)
	e.margin = observedMargin
}

// fitOverhead solves tokens − O×other = A×ascii + T×(turns+1) over the
// prompt samples; ok is false when they cannot tell A from T.
func (e *Estimator) fitOverhead() (float64, bool) {
	var n, sxx, sxy, syy, sxz, syz float64
	turns := map[int]bool{}
	for _, s := range e.samples {
		if s.turns == 0 {
			continue
		}
		turns[s.turns] = true
		x, y := float64(s.ascii), float64(s.turns+1)
		z := float64(s.tokens) - float64(s.other)*e.other
		n++
		sxx, sxy, syy, sxz, syz = sxx+x*x, sxy+x*y, syy+y*y, sxz+x*z, syz+y*z
	}
	det := sxx*syy - sxy*sxy
	if len(turns) < 2 || n < 2 || math.Abs(det) < 1e-9 {
		return 0, false
	}
	t := (sxx*syz - sxy*sxz) / det
	if t < 0 || t > 64 {
		return 0, false
	}
	return t, true
}

func split(text string) (ascii, other int) {
	for i := 0; i < len(text); i++ {
		if text[i] < utf8.RuneSelf {
			ascii++
		} else {
			other++
		}
	}
	return ascii, other
}

// VocabularySource gives a model's tokenizer vocabulary; the router is one
// (for the models of backends that expose it, as Ollama does).
type VocabularySource interface {
	Vocabulary(ctx context.Context, model string) (llm.Vocabulary, error)
}

// estimators holds one Estimator per model; the zero value is ready.
type estimators struct {
	mu      sync.Mutex
	byModel map[string]*Estimator
}

// Tokenizer returns the estimator Assemble counts with for model, the name
// the caller also passes as ContextRequest.Model (any stable name: a
// router reference such as "ollama:qwen3:8b"). "" is the generic
// estimator. A model met for the first time starts from its vocabulary
// when Options.Vocabularies has it, else from one token per byte, the
// bound every byte-fallback tokenizer keeps; ObservePrompt then
// calibrates it.
func (s *Store) Tokenizer(ctx context.Context, model string) *Estimator {
	if model == "" {
		return s.tok
	}
	s.models.mu.Lock()
	e, ok := s.models.byModel[model]
	s.models.mu.Unlock()
	if ok {
		return e
	}
	e = boundEstimator()
	if src := s.opt.Vocabularies; src != nil {
		if v, err := src.Vocabulary(ctx, model); err == nil {
			e = FromVocabulary(v)
		}
	}
	s.models.mu.Lock()
	defer s.models.mu.Unlock()
	if s.models.byModel == nil {
		s.models.byModel = map[string]*Estimator{}
	}
	if old, ok := s.models.byModel[model]; ok {
		return old // another assembly got there first
	}
	s.models.byModel[model] = e
	return e
}

// ObservePrompt calibrates model's estimator with the backend's count of a
// prompt made of these messages (Ollama's prompt_eval_count, the OpenAI
// API's usage.prompt_tokens): call it when an answer's final statistics
// arrive. Whatever else the prompt carried (tool definitions) counts as
// if the messages cost it, which errs on the side of a smaller context.
func (s *Store) ObservePrompt(ctx context.Context, model string, messages []string, promptTokens int) {
	if model == "" || promptTokens <= 0 {
		return
	}
	s.Tokenizer(ctx, model).ObservePrompt(messages, promptTokens)
}

// recentFitting returns the newest unfolded turns of the conversation that
// fit in room tokens, oldest first, each with Tokens as tok counts it (as
// stored for the generic estimator) and over tokens of template, and how
// many unfolded turns there are.
func (s *Store) recentFitting(ctx context.Context, tok *Estimator, model string, conversation, afterID int64, room, over int) ([]Message, int, error) {
	ms, err := s.Messages(ctx, conversation, afterID, 0)
	if err != nil {
		return nil, 0, err
	}
	return fitNewest(tok, model, ms, room, over), len(ms), nil
}

// fitNewest returns the newest of ms whose tokens, counted by tok for
// model (or as stored when model is ""), fit in room with over per turn.
func fitNewest(tok *Estimator, model string, ms []Message, room, over int) []Message {
	used, first := 0, len(ms)
	for i := len(ms) - 1; i >= 0; i-- {
		if model != "" {
			ms[i].Tokens = tok.Count(ms[i].Content)
		}
		if used+ms[i].Tokens+over > room {
			break
		}
		used += ms[i].Tokens + over
		first = i
	}
	return ms[first:]
}
