package discord

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	line := func(n int) string { return "x := 1 // line " + string(rune('0'+n)) + "\n" } // 17 characters
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(line(i))
		}
		return b.String()
	}
	family := "👨\u200d👩\u200d👧" // five code points, one picture
	cases := []struct {
		name string
		text string
		max  int
		want []string
	}{
		{"short", "hello", 64, []string{"hello"}},
		{"exactly the limit", strings.Repeat("b", 64), 64, []string{strings.Repeat("b", 64)}},
		{"paragraphs", "First paragraph is here and it is long enough.\n\nSecond paragraph follows it here, also long.", 64,
			[]string{"First paragraph is here and it is long enough.\n\n", "Second paragraph follows it here, also long."}},
		{"lines before words", "one two three four five six seven eight nine\nten eleven twelve thirteen fourteen", 64,
			[]string{"one two three four five six seven eight nine\n", "ten eleven twelve thirteen fourteen"}},
		{"words", strings.Repeat("word ", 20), 64,
			[]string{strings.Repeat("word ", 12), strings.Repeat("word ", 8)}},
		{"long word", strings.Repeat("a", 150), 64,
			[]string{strings.Repeat("a", 60), strings.Repeat("a", 60), strings.Repeat("a", 30)}},
		{"emoji are never cut", strings.Repeat("👍", 100), 64,
			[]string{strings.Repeat("👍", 60), strings.Repeat("👍", 40)}},
		{"joined emoji stay whole", "x" + strings.Repeat(family, 20), 64,
			[]string{"x" + strings.Repeat(family, 11), strings.Repeat(family, 9)}},
		{"table rows stay whole", strings.Repeat("| a | b |\n", 10), 64,
			[]string{strings.Repeat("| a | b |\n", 6), strings.Repeat("| a | b |\n", 4)}},
		{"fence closed and reopened with its language", "Intro:\n```go\n" + lines(1, 8) + "```\nDone.", 64,
			[]string{
				"Intro:\n```go\n" + lines(1, 2) + "```",
				"```go\n" + lines(3, 5) + "```",
				"```go\n" + lines(6, 8) + "```\n",
				"Done.",
			}},
		{"unclosed fence stays open at the end", "```py\n" + strings.Repeat("print(1)\n", 10), 64,
			[]string{"```py\n" + strings.Repeat("print(1)\n", 6) + "```", "```py\n" + strings.Repeat("print(1)\n", 4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Split(c.text, c.max)
			if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
				t.Fatalf("Split =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestSplitRealLimit(t *testing.T) {
	para := strings.Repeat("Sentence with some words in it. ", 20) + "\n\n" // 642 characters
	code := "```python\n" + strings.Repeat("print('é')  # comment\n", 120) + "```\n"
	parts := Split(para+para+code+para, MaxMessage)
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); n > MaxMessage {
			t.Errorf("part %d has %d characters", i, n)
		}
		if strings.Count(p, "```")%2 != 0 {
			t.Errorf("part %d leaves a fence open:\n%s", i, p)
		}
		if i > 0 && strings.Contains(parts[i-1], "```python") && strings.HasSuffix(parts[i-1], "```") && !strings.HasPrefix(p, "```python\n") && !strings.HasPrefix(p, "Sentence") {
			t.Errorf("part %d does not reopen the python block: %.40q", i, p)
		}
	}
	if len(parts) < 3 {
		t.Fatalf("%d parts for %d characters", len(parts), utf8.RuneCountInString(para+para+code+para))
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"hello world", "```go\nfunc main() {}\n```\n", strings.Repeat("a b\n\n", 50),
		"text\n```\ncode " + strings.Repeat("é", 90) + "\n```\nmore", strings.Repeat("👨\u200d👩\u200d👧", 40),
		"| a | b |\n|---|---|\n" + strings.Repeat("| 1 | 2 |\n", 30), "```js\n" + strings.Repeat("x", 300),
	} {
		f.Add(s, 64)
	}
	f.Fuzz(func(t *testing.T, text string, max int) {
		if !utf8.ValidString(text) || max < 0 || max > 4000 {
			return
		}
		ps := pieces(text, max)
		var bodies strings.Builder
		parts := make([]string, len(ps))
		for i, p := range ps {
			bodies.WriteString(p.body)
			parts[i] = p.String()
		}
		if bodies.String() != text {
			t.Fatalf("parts do not add up to the text:\n got %q\nwant %q", bodies.String(), text)
		}
		limit := max
		if limit < minSplit {
			limit = minSplit
		}
		for i, p := range parts {
			if !utf8.ValidString(p) {
				t.Fatalf("part %d is not valid UTF-8: %q", i, p)
			}
			if n := utf8.RuneCountInString(p); n > limit {
				t.Fatalf("part %d has %d characters, limit %d", i, n, limit)
			}
			if in, _ := fenceAt(p); in && i < len(parts)-1 {
				t.Fatalf("part %d leaves a code block open: %q", i, p)
			}
		}
		if got := Split(text, max); strings.Join(got, "\x00") != strings.Join(parts, "\x00") {
			t.Fatalf("Split differs from its pieces")
		}
	})
}
