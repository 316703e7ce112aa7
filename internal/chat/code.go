package chat

import (
	"context"
	"strings"

	"github.com/maicompanion/mai/internal/risk"
)

// lastBlock returns the language tag and body of the last fenced code
// block in text.
func lastBlock(text string) (tag, code string, ok bool) {
	lines := strings.Split(text, "\n")
	var cur []string
	in := false
	curTag := ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			if !in {
				in, curTag, cur = true, strings.TrimSpace(strings.TrimPrefix(t, "```")), nil
				continue
			}
			in, tag, code, ok = false, curTag, strings.Join(cur, "\n"), true
			continue
		}
		if in {
			cur = append(cur, l)
		}
	}
	return tag, code, ok
}

// detect guesses the language of untagged code with the risk analyser.
func detect(ctx context.Context, code string) risk.Lang {
	return risk.Analyze(ctx, "", []byte(code)).Lang
}
