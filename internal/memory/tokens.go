package memory

import (
	"sync"
	"unicode/utf8"
)

// turnOverhead is what a chat template adds around each message (role
// markers, separators): 4 tokens in the llama 3 and ChatML templates.
const turnOverhead = 4

// Estimator counts tokens when the backend has not reported them.
//
// The estimate is ceil(ascii bytes × ratio) + one token per non-ASCII rune.
// The starting ratio, 0.25 (four bytes of English per token), is what BPE
// tokenizers with 100k–150k vocabularies (llama 3, qwen 2/3, GPT-4's
// cl100k) give on English prose; CJK and emoji are about one token per
// character or more, so they count one each. Every exact count the backend
// reports for a text (Observe) moves the ratio towards the observed one by
// an exponential moving average, so the estimate calibrates itself to the
// model in use. The ratio is clamped to [0.1, 1] so one odd sample (a long
// number, a base64 blob) cannot derail it.
type Estimator struct {
	mu    sync.Mutex
	ratio float64
}

// NewEstimator returns an estimator with the starting ratio.
func NewEstimator() *Estimator { return &Estimator{ratio: 0.25} }

// Ratio returns the current tokens-per-ASCII-byte ratio.
func (e *Estimator) Ratio() float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ratio
}

// Count estimates the tokens of text (at least 1 for non-empty text).
func (e *Estimator) Count(text string) int {
	if text == "" {
		return 0
	}
	ascii, other := split(text)
	r := e.Ratio()
	n := int(float64(ascii)*r+0.999) + other
	if n < 1 {
		n = 1
	}
	return n
}

// Observe records that the backend counted tokens for text.
func (e *Estimator) Observe(text string, tokens int) {
	ascii, other := split(text)
	if ascii < 64 || tokens <= other {
		return // too short to say anything about the ratio
	}
	r := float64(tokens-other) / float64(ascii)
	r = min(max(r, 0.1), 1)
	e.mu.Lock()
	e.ratio = 0.8*e.ratio + 0.2*r
	e.mu.Unlock()
}

func split(text string) (ascii, other int) {
	for i := 0; i < len(text); {
		if text[i] < utf8.RuneSelf {
			ascii++
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		other++
		i += size
	}
	return ascii, other
}
