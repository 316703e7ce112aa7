package review

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
)

var shared = &ollamatest.Shared{}

func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, shared)) }

func TestParseStrict(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     Verdict
	}{
		{"plain", `{"verdict":"approve","concerns":[],"summary":"fine"}`, Approve},
		{"fenced", "```json\n{\"verdict\":\"reject\",\"concerns\":[\"x\"],\"summary\":\"no\"}\n```", Reject},
		{"request changes", ` {"verdict":"request-changes","concerns":["a","b"],"summary":"s"} `, RequestChanges},
		{"unknown verdict", `{"verdict":"lgtm","concerns":[],"summary":"s"}`, ""},
		{"extra field", `{"verdict":"approve","concerns":[],"summary":"s","score":3}`, ""},
		{"missing concerns", `{"verdict":"approve","summary":"s"}`, ""},
		{"empty summary", `{"verdict":"approve","concerns":[],"summary":" "}`, ""},
		{"two objects", `{"verdict":"approve","concerns":[],"summary":"s"}{"verdict":"reject","concerns":[],"summary":"s"}`, ""},
		{"trailing text", `{"verdict":"approve","concerns":[],"summary":"s"} looks good`, ""},
		{"prose", `I approve this change.`, ""},
		{"truncated", `{"verdict":"approve","concerns":["`, ""},
		{"concerns not strings", `{"verdict":"approve","concerns":[1],"summary":"s"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%q) = %+v, %v; want ErrMalformed", tt.in, got, err)
				}
				return
			}
			if err != nil || got.Verdict != tt.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

// scripted answers with the next of its answers, counting calls.
type scripted struct {
	answers []string
	calls   int
}

func (s *scripted) Name() string { return "scripted" }

func (s *scripted) Ask(_ context.Context, system, prompt string) (string, error) {
	s.calls++
	if !strings.Contains(prompt, "Diff:") || system == "" {
		return "", errors.New("no diff in the prompt")
	}
	if s.calls > len(s.answers) {
		return "", errors.New("no more answers")
	}
	return s.answers[s.calls-1], nil
}

func TestReviewRetriesOnceThenUnavailable(t *testing.T) {
	ctx := context.Background()
	c := Change{Repo: "workspace", Subject: "persona", Diff: "+be kind"}
	m := &scripted{answers: []string{"sure!", `{"verdict":"approve","concerns":[],"summary":"ok"}`}}
	got, err := Reviewer{Model: m}.Review(ctx, c)
	if err != nil || got.Verdict != Approve || got.Attempts != 2 || m.calls != 2 || got.Reviewer != "scripted" {
		t.Fatalf("bad then good: %+v %v (calls %d)", got, err, m.calls)
	}
	m = &scripted{answers: []string{"sure!", `{"verdict":"approve"}`, `{"verdict":"approve","concerns":[],"summary":"ok"}`}}
	got, err = Reviewer{Model: m}.Review(ctx, c)
	if err != nil || got.Verdict != Unavailable || got.Available() || m.calls != 2 || !strings.Contains(got.Error, "attempt 2") {
		t.Fatalf("bad twice: %+v %v (calls %d)", got, err, m.calls)
	}
	got, err = Reviewer{}.Review(ctx, c)
	if err != nil || got.Available() {
		t.Fatalf("no reviewer: %+v %v", got, err)
	}
}

// The real tiny Ollama model answers random words: even held to the
// schema by Ollama's format, its answer within the token limit is not a
// well-formed review, so the result is "no review available" after two
// attempts — never approval.
func TestLocalReviewerRealOllama(t *testing.T) {
	srv := shared.Server(t)
	c, err := ollama.New(srv.URL(), ollama.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Reviewer{Model: Local{Chat: c, Model: ollamatest.ChatModel, MaxTokens: 24}}.Review(context.Background(),
		Change{Repo: "workspace", Subject: "persona", Diff: "+be kind"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Available() || got.Verdict == Approve || got.Attempts != 2 || got.Error == "" {
		t.Fatalf("the random model gave %+v", got)
	}
	t.Logf("%s", got.Error)
}
