package memory

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/gguf"
	"github.com/maicompanion/mai/internal/llm"
)

func TestGreedyCount(t *testing.T) {
	sp := newGreedy(llm.Vocabulary{Kind: "llama", Tokens: []string{"<unk>", "<0x0A>", "▁", "h", "e", "l", "o", "▁he", "▁hell"}})
	bpe := newGreedy(llm.Vocabulary{Kind: "gpt2", Tokens: []string{"t", "h", "e", "Ġ", "Ġthe", "Ċ"}})
	tests := []struct {
		g    *greedy
		text string
		want int
	}{
		{sp, "hello", 2},   // ▁hell o
		{sp, "hello\n", 3}, // ▁hell o, and the newline by byte fallback (byte tokens are not matched as text)
		{sp, "he he", 2},   // ▁he ▁he
		{sp, "日", 4},       // ▁, then three bytes with no token
		{bpe, "the the", 4},
		{bpe, "the\nthe", 7}, // t h e Ċ t h e: "the" has no token without its space
	}
	for _, tc := range tests {
		if got := tc.g.count(tc.text); got != tc.want {
			t.Errorf("%s count(%q) = %d, want %d", map[bool]string{true: "sentencepiece", false: "bpe"}[tc.g.spaceMark], tc.text, got, tc.want)
		}
	}
	dec := byteLevelDecoder()
	if got := dec("ĠhelloĊ"); got != " hello\n" {
		t.Errorf("byte-level decode = %q", got)
	}
}

// The tiny test models spell nearly everything one character a token; a
// large BPE vocabulary of whole words a few bytes a token. The estimator
// from each vocabulary must tell them apart.
func TestFromVocabulary(t *testing.T) {
	tokens, _, _ := gguf.TinyVocabulary()
	tiny := FromVocabulary(llm.Vocabulary{Kind: "llama", Tokens: tokens})
	if r := tiny.Ratio(); r < 0.8 || r > 1.05 {
		t.Errorf("tiny vocabulary: %.2f tokens per byte, want about one", r)
	}
	// Every line of referenceProse split into words with their leading
	// space, as a byte-level BPE vocabulary holds them.
	words := map[string]bool{}
	for _, w := range strings.Fields(referenceProse) {
		words["Ġ"+w], words[w] = true, true
	}
	big := []string{"Ċ"}
	for w := range words {
		big = append(big, w)
	}
	for c := '!'; c <= '~'; c++ {
		big = append(big, string(c))
	}
	wordy := FromVocabulary(llm.Vocabulary{Kind: "gpt2", Tokens: big})
	if r := wordy.Ratio(); r > 0.25 {
		t.Errorf("whole-word vocabulary: %.2f tokens per byte, want under 0.25 (words average over 4 bytes)", r)
	}
	if n := tiny.TurnOverhead(); n < 5 {
		t.Errorf("tiny vocabulary: %d tokens a message for the template, but its markers are spelt a character a token", n)
	}
}

// A model that counts 0.9 tokens per byte and 9 tokens of template per
// message (and for the generation prompt): after prompts of different
// lengths the estimator must count each of them at least as high as the
// model did, and learn the overhead.
func TestObservePrompt(t *testing.T) {
	truth := func(msgs []string) int {
		n := 9 // generation prompt
		for _, m := range msgs {
			n += int(float64(len(m))*0.9+0.5) + 9
		}
		return n
	}
	var prompts [][]string
	for turns := 1; turns <= 8; turns++ {
		var msgs []string
		for i := range turns {
			msgs = append(msgs, strings.Repeat(fmt.Sprintf("word%d ", i), 3+turns*i%7))
		}
		prompts = append(prompts, msgs)
	}
	e := boundEstimator()
	for _, p := range prompts {
		e.ObservePrompt(p, truth(p))
	}
	if n := e.TurnOverhead(); n < 8 || n > 11 {
		t.Errorf("learned %d tokens of template a message, want about 9", n)
	}
	for _, p := range prompts {
		est := e.TurnOverhead()
		for _, m := range p {
			est += e.Count(m) + e.TurnOverhead()
		}
		if est < truth(p) {
			t.Errorf("%d messages: estimated %d, the model counted %d", len(p), est, truth(p))
		}
	}
	// A count with more tokens than bytes covers more than the text (a
	// reasoning model's thinking) and must not move the ratio.
	before := e.Ratio()
	e.Observe(strings.Repeat("x", 100), 5000)
	if e.Ratio() != before {
		t.Errorf("an impossible count moved the ratio from %v to %v", before, e.Ratio())
	}
}
