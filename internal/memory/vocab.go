package memory

import (
	"strings"

	"github.com/maicompanion/mai/internal/llm"
)

// referenceProse is the kind of text a context is made of — a persona,
// facts, remembered lines, chat turns — for measuring a vocabulary on.
const referenceProse = `You are Mai, a friendly companion who lives on this computer. Keep answers short unless asked for detail, and say so when you are unsure.
## What you know about the user
- family: has a sister called Ana who moved to Lisbon in May
- garden: grows tomatoes, basil and three kinds of peppers on the balcony
- work: writes software for a small logistics company, mostly in Go and SQL
## Memories that may be relevant
- [2026-02-14] user: Could you remind me to water the plants before the trip?
- [2026-03-02] assistant: Of course. I will mention it on Thursday evening, two days before you leave.
user: What was the name of that restaurant we talked about last week? The one near the river with the blue door.
assistant: You mentioned a small fish restaurant called "O Barco", next to the old bridge. You said the grilled sardines were the best you had ever eaten, and that it closes on Mondays.
user: Perfect, thanks! Can you also help me plan the weekend? I'd like to visit the museum on Saturday morning (it opens at 10:00) and meet Ana for lunch around 13:30.`

// referenceOther is text outside ASCII: accents, CJK, emoji.
const referenceOther = `éèàçñüößøåœ日本語の文章を読みます中文的句子也一样😀🎉✓—«»€`

// chatMarkers are what common chat templates put around one message; a
// vocabulary that has them as tokens counts each in one or two.
var chatMarkers = []string{
	"<|im_start|>user\n<|im_end|>\n",
	"<|start_header_id|>user<|end_header_id|>\n\n<|eot_id|>",
	"<|user|>\n",
	"[INST] [/INST]",
}

// FromVocabulary returns an estimator for the model whose vocabulary v is:
// its tokens split the reference texts greedily, longest match first,
// bytes no token covers counting one each, with a margin for the real
// merges; the template's cost per message is the cheapest of the common
// templates' markers in this vocabulary.
func FromVocabulary(v llm.Vocabulary) *Estimator {
	g := newGreedy(v)
	prose := g.count(referenceProse)
	other := g.count(referenceOther)
	overhead := prose
	for _, m := range chatMarkers {
		overhead = min(overhead, g.count(m))
	}
	return &Estimator{
		ascii:    float64(prose) / float64(len(referenceProse)),
		other:    float64(other) / float64(len(referenceOther)),
		overhead: float64(max(overhead, 1)),
		margin:   vocabularyMargin,
	}
}

// greedy splits text into a vocabulary's tokens, longest first.
type greedy struct {
	tokens    map[string]bool
	longest   int
	spaceMark bool // SentencePiece: a space is "▁", and a text starts with one
}

// maxTokenBytes bounds the match length tried at each position.
const maxTokenBytes = 48

func newGreedy(v llm.Vocabulary) *greedy {
	g := &greedy{tokens: make(map[string]bool, len(v.Tokens)), spaceMark: v.Kind == "llama"}
	decode := func(t string) string { return t }
	if v.Kind == "gpt2" {
		decode = byteLevelDecoder()
	}
	for _, t := range v.Tokens {
		if g.spaceMark && len(t) == 6 && strings.HasPrefix(t, "<0x") && strings.HasSuffix(t, ">") {
			continue // a byte token: the fallback below counts these
		}
		b := decode(t)
		if b == "" || len(b) > maxTokenBytes {
			continue
		}
		g.tokens[b] = true
		g.longest = max(g.longest, len(b))
	}
	return g
}

func (g *greedy) count(text string) int {
	if g.spaceMark {
		text = "▁" + strings.ReplaceAll(text, " ", "▁")
	}
	n := 0
	for i := 0; i < len(text); n++ {
		l := min(g.longest, len(text)-i)
		for ; l > 1 && !g.tokens[text[i:i+l]]; l-- {
		}
		i += max(l, 1)
	}
	return n
}

// byteLevelDecoder maps byte-level BPE token strings back to bytes. Such
// vocabularies write each byte as a printable character: the printable
// Latin-1 bytes as themselves, every other byte as the code point 256 + k
// for the k-th such byte in order.
func byteLevelDecoder() func(string) string {
	toByte := map[rune]byte{}
	k := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			toByte[rune(b)] = byte(b)
			continue
		}
		toByte[rune(256+k)] = byte(b)
		k++
	}
	return func(t string) string {
		out := make([]byte, 0, len(t))
		for _, r := range t {
			b, ok := toByte[r]
			if !ok {
				return t // an added token, stored as plain text
			}
			out = append(out, b)
		}
		return string(out)
	}
}
