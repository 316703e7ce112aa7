package chat

import "strings"

// thinkFilter separates a reasoning model's <think>…</think> blocks from
// its answer as the text streams in, tags split across pieces included.
// (Ollama's separate "thinking" field and LM Studio's reasoning content
// arrive as llm.EventThinking, never as answer text.)
type thinkFilter struct {
	in      bool   // inside a block
	pending string // a tail that may be the start of a tag
}

const (
	openTag  = "<think>"
	closeTag = "</think>"
)

// feed returns the answer text and the reasoning text in piece.
func (f *thinkFilter) feed(piece string) (visible, thought string) {
	s := f.pending + piece
	f.pending = ""
	var vis, th strings.Builder
	for s != "" {
		tag := openTag
		if f.in {
			tag = closeTag
		}
		i := strings.Index(s, tag)
		if i < 0 {
			keep := partialSuffix(s, tag)
			out := s[:len(s)-keep]
			f.pending = s[len(s)-keep:]
			if f.in {
				th.WriteString(out)
			} else {
				vis.WriteString(out)
			}
			break
		}
		if f.in {
			th.WriteString(s[:i])
		} else {
			vis.WriteString(s[:i])
		}
		f.in = !f.in
		s = s[i+len(tag):]
	}
	return vis.String(), th.String()
}

// partialSuffix returns the length of the longest suffix of s that is a
// proper prefix of tag.
func partialSuffix(s, tag string) int {
	for n := min(len(s), len(tag)-1); n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}
