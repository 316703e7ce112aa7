package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{name: "shorter than the limit", in: "fix typo", limit: 10, want: "fix typo"},
		{name: "exactly the limit", in: "0123456789", limit: 10, want: "0123456789"},
		{name: "one over", in: "0123456789a", limit: 10, want: "012345678…"},
		{name: "space before the cut is dropped", in: "abcd efgh ijkl", limit: 6, want: "abcd…"},
		{name: "accented letters are one unit", in: "café naïve über", limit: 8, want: "café na…"},
		{name: "CJK is one unit", in: "日本語のコミット", limit: 4, want: "日本語…"},
		{name: "emoji is two units and is not split", in: "ab🧠cd", limit: 4, want: "ab…"},
		{name: "emoji that fits stays", in: "ab🧠cdef", limit: 5, want: "ab🧠…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncate(tt.in, tt.limit)
			if got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
			}
			if n := utf16Len(got); n > tt.limit {
				t.Errorf("result is %d long, over the limit %d", n, tt.limit)
			}
		})
	}
}

// eventWith is a push of n commits whose messages and names come from the
// given functions.
func eventWith(n int, ref string, message func(i int) string, author func(i int) string) pushEvent {
	ev := pushEvent{
		Ref:        ref,
		Compare:    "https://github.com/maicompanion/mai/compare/aaaaaaaaaaaa...bbbbbbbbbbbb",
		Repository: repository{FullName: "maicompanion/mai", HTMLURL: "https://github.com/maicompanion/mai"},
	}
	for i := range n {
		id := fmt.Sprintf("%040x", i+1)
		ev.Commits = append(ev.Commits, commit{
			ID:        id,
			Message:   message(i),
			Timestamp: "2026-11-24T10:00:00+01:00",
			URL:       "https://github.com/maicompanion/mai/commit/" + id,
			Author:    commitAuthor{Name: author(i), Username: "dev"},
		})
	}
	return ev
}

func encodeAll(t *testing.T, ps []payload) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range ps {
		b, err := encodePayload(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestPayloadsStayWithinLimits(t *testing.T) {
	short := func(i int) string { return fmt.Sprintf("commit %d", i) }
	tests := []struct {
		name          string
		commits       int
		ref           string
		message       func(int) string
		author        func(int) string
		wantEmbeds    []int
		wantEllipsis  []string // fields of the first embed that must end in "…"
		wantFullTitle bool
	}{
		{
			name:    "huge subject: title cut, whole message in the description",
			commits: 1, ref: "refs/heads/main",
			message:      func(int) string { return strings.Repeat("Ä", 5000) },
			author:       short,
			wantEmbeds:   []int{1},
			wantEllipsis: []string{"title", "description"},
		},
		{
			name:    "huge body: description cut",
			commits: 1, ref: "refs/heads/main",
			message:      func(int) string { return "subject\n\n" + strings.Repeat("body 🧠 ", 2000) },
			author:       short,
			wantEmbeds:   []int{1},
			wantEllipsis: []string{"description"},
		},
		{
			name:    "huge author and branch: all fields at their maximum, total still under 6000",
			commits: 1, ref: "refs/heads/" + strings.Repeat("b", 3000),
			message:      func(int) string { return strings.Repeat("s", 300) + "\n" + strings.Repeat("d", 5000) },
			author:       func(int) string { return strings.Repeat("名", 400) },
			wantEmbeds:   []int{1},
			wantEllipsis: []string{"title", "description", "footer", "author"},
		},
		{
			name:    "big embeds: the 6000 total splits before 10 embeds",
			commits: 12, ref: "refs/heads/main",
			message:    func(i int) string { return fmt.Sprintf("commit %d\n\n%s", i, strings.Repeat("x", 1800)) },
			author:     short,
			wantEmbeds: []int{3, 3, 3, 3},
		},
		{
			name:    "small embeds: ten a message",
			commits: 25, ref: "refs/heads/main",
			message:    short,
			author:     short,
			wantEmbeds: []int{10, 10, 5},
		},
		{
			name:    "more than 50 commits: the rest summed up in one embed",
			commits: 63, ref: "refs/heads/main",
			message:    short,
			author:     short,
			wantEmbeds: []int{10, 10, 10, 10, 10, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := eventWith(tt.commits, tt.ref, tt.message, tt.author)
			ps := buildPayloads(ev, 50)
			var counts []int
			var all []embed
			for _, raw := range encodeAll(t, ps) {
				p := checkLimits(t, raw)
				counts = append(counts, len(p.Embeds))
				all = append(all, p.Embeds...)
			}
			if fmt.Sprint(counts) != fmt.Sprint(tt.wantEmbeds) {
				t.Errorf("embeds per message %v, want %v", counts, tt.wantEmbeds)
			}
			shown := min(tt.commits, 50)
			for i := range shown {
				if all[i].URL != ev.Commits[i].URL {
					t.Fatalf("embed %d links %s, want commit %d in push order", i, all[i].URL, i)
				}
			}
			if rest := tt.commits - shown; rest > 0 {
				last := all[len(all)-1]
				if want := fmt.Sprintf("%d more commits", rest); !strings.Contains(last.Title, want) || last.URL != ev.Compare {
					t.Errorf("last embed %q → %s, want %q linking the compare view", last.Title, last.URL, want)
				}
			}
			first := all[0]
			fields := map[string]string{"title": first.Title, "description": first.Description}
			if first.Footer != nil {
				fields["footer"] = first.Footer.Text
			}
			if first.Author != nil {
				fields["author"] = first.Author.Name
			}
			for _, f := range tt.wantEllipsis {
				if !strings.HasSuffix(fields[f], "…") {
					t.Errorf("%s %.40q… does not end in an ellipsis", f, fields[f])
				}
			}
		})
	}
}

func TestCommitEmbed(t *testing.T) {
	ev := eventWith(1, "refs/tags/v1.2.0", func(int) string {
		return "Tag the release\r\n\r\nWindows line ends are normalised.\r\n"
	}, func(int) string { return "" })
	p := buildPayloads(ev, 50)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	e := p[0].Embeds[0]
	checks := []struct{ what, got, want string }{
		{"title", e.Title, "0000000 Tag the release"},
		{"description", e.Description, "Windows line ends are normalised."},
		{"footer", e.Footer.Text, "maicompanion/mai · tag v1.2.0"},
		{"timestamp", e.Timestamp, "2026-11-24T09:00:00Z"},
		{"author falls back to the username", e.Author.Name, "dev"},
		{"author links the profile", e.Author.URL, "https://github.com/dev"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.Contains(string(b), `"allowed_mentions":{"parse":[]}`) {
		t.Errorf("payload does not turn mentions off: %s", b)
	}
}

func TestRefName(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"refs/heads/main", "main"},
		{"refs/heads/feature/discord-sync", "feature/discord-sync"},
		{"refs/tags/v1.0.0", "tag v1.0.0"},
		{"refs/notes/commits", "refs/notes/commits"},
	}
	for _, tt := range tests {
		if got := refName(tt.ref); got != tt.want {
			t.Errorf("refName(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}
