package memory

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Summary styles, from the least to the most condensed.
const (
	StyleFold      = "fold"      // oldest turns of an active conversation
	StyleKeyPoints = "keypoints" // one conversation-day, 7–30 days old
	StyleCondensed = "condensed" // one conversation-week, older than 30 days
)

// SummaryRequest is what to summarise and how much room the summary has.
type SummaryRequest struct {
	Style     string
	Messages  []Message // oldest first; for StyleCondensed, may be day key points as assistant messages
	MaxTokens int
}

// Summarizer writes a summary, normally with the current chat model.
type Summarizer interface {
	// Summarize returns the summary text and the model that wrote it.
	Summarize(ctx context.Context, req SummaryRequest) (text, model string, err error)
}

// summarize asks the configured summariser and falls back to extraction
// when there is none, it fails, or it answers with nothing.
func (s *Store) summarize(ctx context.Context, req SummaryRequest) (text, model string) {
	if s.opt.Summarizer != nil {
		text, model, err := s.opt.Summarizer.Summarize(ctx, req)
		if err == nil && strings.TrimSpace(text) != "" {
			if s.tok.Count(text) > req.MaxTokens {
				text = truncateTokens(s.tok, text, req.MaxTokens)
			}
			return text, model
		}
	}
	return Extract(s.tok, req), ""
}

// Extract is the extractive summariser used when no model answers: it
// scores each sentence by how many of the conversation's frequent content
// words it holds (normalised by length, so long sentences do not win by
// size alone), keeps the best ones that fit in MaxTokens, and lists them in
// their original order as "- role: sentence" lines.
func Extract(tok *Estimator, req SummaryRequest) string {
	type sentence struct {
		role  Role
		text  string
		pos   int
		score float64
	}
	var all []sentence
	freq := map[string]int{}
	for _, m := range req.Messages {
		for _, sn := range splitSentences(m.Content) {
			all = append(all, sentence{role: m.Role, text: sn, pos: len(all)})
			seen := map[string]bool{}
			for _, w := range contentWords(sn) {
				if !seen[w] {
					seen[w] = true
					freq[w]++
				}
			}
		}
	}
	for i := range all {
		ws := contentWords(all[i].text)
		if len(ws) == 0 {
			continue
		}
		var sum float64
		for _, w := range ws {
			sum += float64(freq[w])
		}
		all[i].score = sum / float64(len(ws)+3)
	}
	ranked := append([]sentence(nil), all...)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].score > ranked[j].score })
	budget := req.MaxTokens
	if budget <= 0 {
		budget = 256
	}
	var picked []sentence
	used := 0
	for _, sn := range ranked {
		line := "- " + string(sn.role) + ": " + sn.text
		n := tok.Count(line) + 1
		if used+n > budget {
			continue
		}
		used += n
		picked = append(picked, sn)
	}
	if len(picked) == 0 && len(ranked) > 0 {
		return truncateTokens(tok, "- "+string(ranked[0].role)+": "+ranked[0].text, budget)
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].pos < picked[j].pos })
	var b strings.Builder
	for i, sn := range picked {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "- %s: %s", sn.role, sn.text)
	}
	return b.String()
}

func splitSentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	flush := func(end int) {
		s := strings.Join(strings.Fields(string(rs[start:end])), " ")
		if s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range rs {
		switch {
		case r == '\n':
			flush(i + 1)
		case (r == '.' || r == '!' || r == '?') && (i+1 == len(rs) || unicode.IsSpace(rs[i+1])):
			flush(i + 1)
		}
	}
	flush(len(rs))
	return out
}

func contentWords(s string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if !stopWords[w] && len(w) > 1 {
			out = append(out, w)
		}
	}
	return out
}

// truncateTokens cuts text to about max tokens, at a word boundary.
func truncateTokens(tok *Estimator, text string, max int) string {
	if tok.Count(text) <= max {
		return text
	}
	lo, hi := 0, len(text)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if tok.Count(text[:mid]+"…") <= max {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	cut := text[:lo]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	if i := strings.LastIndexAny(cut, " \n"); i > len(cut)/2 {
		cut = cut[:i]
	}
	if cut == "" {
		return ""
	}
	return cut + "…"
}

// SummaryPrompt returns the system and user messages that ask a chat model
// for req's summary, so a Summarizer over the current model (built where the
// router is) only has to send them and return the answer.
func SummaryPrompt(req SummaryRequest) (system, user string) {
	var how string
	switch req.Style {
	case StyleKeyPoints:
		how = "List the key points of this day of conversation as short bullet lines starting with \"- \": facts learned, decisions, promises, names, dates, numbers."
	case StyleCondensed:
		how = "Condense this week of conversation into one short paragraph that keeps names, decisions, dates and anything promised."
	default:
		how = "Summarise the earlier part of this conversation so it can continue without it: keep names, facts, decisions, open questions and anything promised."
	}
	system = "You write summaries of a conversation between a user and their assistant, Mai, for Mai's long-term memory. " + how +
		fmt.Sprintf(" Use at most %d tokens. Write only the summary.", max(req.MaxTokens, 32))
	var b strings.Builder
	for _, m := range req.Messages {
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.Time.UTC().Format("2006-01-02 15:04"), m.Role, strings.TrimSpace(m.Content))
	}
	return system, b.String()
}
