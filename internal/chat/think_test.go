package chat

import "testing"

// Reasoning in <think> blocks is kept out of the answer however the stream
// splits the tags.
func TestThinkFilter(t *testing.T) {
	for _, tc := range []struct {
		name           string
		pieces         []string
		answer, reason string
	}{
		{"none", []string{"plain ", "answer"}, "plain answer", ""},
		{"whole block", []string{"<think>hmm</think>Hi"}, "Hi", "hmm"},
		{"split tags", []string{"<th", "ink>let me", " see</thi", "nk>", "Yes."}, "Yes.", "let me see"},
		{"a lone angle bracket", []string{"a <", "b"}, "a <b", ""},
		{"unclosed", []string{"<think>still going"}, "", "still going"},
		{"answer then block", []string{"A<think>x</think>B"}, "AB", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f thinkFilter
			var ans, rsn string
			for _, p := range tc.pieces {
				a, r := f.feed(p)
				ans, rsn = ans+a, rsn+r
			}
			if !f.in {
				ans += f.pending
			}
			if ans != tc.answer || rsn != tc.reason {
				t.Errorf("answer %q reason %q, want %q %q", ans, rsn, tc.answer, tc.reason)
			}
		})
	}
}

// Fenced blocks: the last one wins, with its tag.
func TestLastBlock(t *testing.T) {
	tag, code, ok := lastBlock("see:\n```sh\necho a\n```\nand\n```python\nprint(1)\nprint(2)\n```\n")
	if !ok || tag != "python" || code != "print(1)\nprint(2)" {
		t.Errorf("lastBlock = %q %q %v", tag, code, ok)
	}
	if _, _, ok := lastBlock("no code here"); ok {
		t.Error("found a block in plain text")
	}
}

// Facts are read from the first JSON array of an answer; prose gives none.
func TestParseFacts(t *testing.T) {
	got := parseFacts("<think>[\"no\"]</think>Here: [{\"subject\":\"a\",\"statement\":\"likes tea\",\"confidence\":0.7},{\"statement\":\"  \"}] done")
	if len(got) != 1 || got[0].Statement != "likes tea" || got[0].Confidence != 0.7 {
		t.Errorf("parseFacts = %+v", got)
	}
	if got := parseFacts("blue green purple"); got != nil {
		t.Errorf("prose gave %+v", got)
	}
}
