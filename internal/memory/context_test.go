package memory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedSummarizer answers with a summary naming how many messages it saw,
// or fails, so the tests can tell its output from the extractive fallback.
type fixedSummarizer struct {
	fail  bool
	calls int
}

func (f *fixedSummarizer) Summarize(_ context.Context, req SummaryRequest) (string, string, error) {
	f.calls++
	if f.fail {
		return "", "", errors.New("model not loaded")
	}
	return fmt.Sprintf("%s summary of %d messages", req.Style, len(req.Messages)), "test-model", nil
}

// countTurns recounts an assembled context the way a backend sees it: the
// system turn is new text, counted by the estimator; every other turn is a
// stored message, counted as stored (the backend's exact count when it
// reported one), and must carry that message's text.
func countTurns(t *testing.T, s *Store, c Context) int {
	t.Helper()
	if len(c.Turns) == 0 || c.Turns[0].Role != RoleSystem || c.Turns[0].MessageID != 0 {
		t.Fatalf("the context does not start with the system turn: %+v", c.Turns)
	}
	n := s.tok.Count(c.Turns[0].Content) + turnOverhead
	for _, tn := range c.Turns[1:] {
		var content string
		var tokens int
		if err := s.DB().QueryRow(`SELECT content, tokens FROM messages WHERE id = ?`, tn.MessageID).Scan(&content, &tokens); err != nil {
			t.Fatalf("turn %+v is not a stored message: %v", tn, err)
		}
		if content != tn.Content {
			t.Fatalf("turn of message %d reads %q, stored %q", tn.MessageID, tn.Content, content)
		}
		n += tokens + turnOverhead
	}
	return n
}

// TestCountTurnsUsesStoredCounts: a recent turn whose backend-reported
// count is far above the estimate counts as reported.
func TestCountTurnsUsesStoredCounts(t *testing.T) {
	s := newStore(t, Options{})
	conv := startConv(t, s, "u")
	m := appendMsgs(t, s, conv, Message{Content: "short words", Tokens: 500, TokensExact: true})[0]
	c := Context{Turns: []Turn{{Role: RoleSystem, Content: "You are Mai."}, {Role: RoleUser, Content: m.Content, MessageID: m.ID}}}
	want := s.tok.Count("You are Mai.") + turnOverhead + 500 + turnOverhead
	if got := countTurns(t, s, c); got != want {
		t.Errorf("countTurns = %d, want %d", got, want)
	}
}

// TestAssembleMarksTheFactsItKept: the best-ranked fact is too long for
// the facts section and is left out, so it is not the one marked used.
func TestAssembleMarksTheFactsItKept(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	long, err := s.Remember(ctx, Fact{User: "u", Subject: "boat", Statement: "sails a boat " + strings.Repeat("across the wide grey northern sea ", 60)})
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.Remember(ctx, Fact{User: "u", Subject: "cat", Statement: "has a cat called Miso", Confidence: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	conv := startConv(t, s, "u")
	appendMsgs(t, s, conv, Message{Content: "shall we take the boat out?"})
	c, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if c.Facts != 1 || !strings.Contains(c.Turns[0].Content, "Miso") || strings.Contains(c.Turns[0].Content, "grey northern sea") {
		t.Fatalf("facts section (%d facts):\n%s", c.Facts, c.Turns[0].Content)
	}
	facts, err := s.Facts(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range facts {
		if used := !f.LastUsed.IsZero(); used != (f.ID == short) {
			t.Errorf("fact %d (long %v) marked used: %v", f.ID, f.ID == long, used)
		}
	}
}

func seedConversation(t *testing.T, s *Store, user string, turns int, at time.Time) int64 {
	t.Helper()
	conv := startConv(t, s, user)
	var ms []Message
	for i := range turns {
		role := RoleUser
		if i%2 == 1 {
			role = RoleAssistant
		}
		ms = append(ms, Message{Role: role, Time: at.Add(time.Duration(i) * time.Minute),
			Content: fmt.Sprintf("Turn %d talks about gardening and tomatoes. The weather was %s today. We planned step %d.", i, []string{"sunny", "rainy", "windy"}[i%3], i)})
	}
	appendMsgs(t, s, conv, ms...)
	return conv
}

func TestAssembleNeverOverBudget(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, window := range []int{128, 256, 512, 1024, 4096, 32768} {
		t.Run(fmt.Sprint(window), func(t *testing.T) {
			s := newStore(t, Options{Now: func() time.Time { return now }})
			old := seedConversation(t, s, "u", 40, now.Add(-30*24*time.Hour))
			appendMsgs(t, s, old, Message{Content: "my dog Biscuit loves the beach", Time: now.Add(-29 * 24 * time.Hour)})
			for i := range 30 {
				if _, err := s.Remember(ctx, Fact{User: "u", Subject: "garden", Statement: fmt.Sprintf("grows tomato variety %d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			conv := seedConversation(t, s, "u", 60, now.Add(-time.Hour))
			appendMsgs(t, s, conv, Message{Content: "what does Biscuit love?"})
			c, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai, a kind companion. " + strings.Repeat("Be brief. ", 20), Window: window})
			if err != nil {
				t.Fatal(err)
			}
			if got := countTurns(t, s, c); c.Tokens > c.Budget || got > c.Budget {
				t.Fatalf("context uses %d (recounted %d) of %d tokens", c.Tokens, got, c.Budget)
			}
			if c.Turns[0].Role != RoleSystem || !strings.HasPrefix(c.Turns[0].Content, "You are Mai") {
				t.Errorf("first turn = %+v", c.Turns[0])
			}
			if window >= 1024 {
				last := c.Turns[len(c.Turns)-1]
				if last.Content != "what does Biscuit love?" {
					t.Errorf("last turn = %q", last.Content)
				}
				if !strings.Contains(last.Recalled, "Biscuit loves the beach") || c.Facts == 0 || !strings.Contains(c.Turns[0].Content, "tomato variety") {
					t.Errorf("the latest turn lacks the recalled memory, or the system turn the facts (facts %d):\n%s\n%s", c.Facts, c.Turns[0].Content, last.Recalled)
				}
				if !strings.HasSuffix(last.Text(), "\n\nwhat does Biscuit love?") || strings.Contains(c.Turns[0].Content, "Biscuit loves the beach") {
					t.Errorf("the model reads the latest turn as %q, the system turn as %q", last.Text(), c.Turns[0].Content)
				}
				for _, tn := range c.Turns[1:] {
					if strings.Contains(last.Recalled, tn.Content) {
						t.Errorf("recent turn %q is repeated among memories", tn.Content)
					}
				}
			}
		})
	}
}

func TestAssembleFoldsLongConversations(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		turns    int
		sum      *fixedSummarizer
		wantFold bool
		model    string
	}{
		{"below the threshold", 10, nil, false, ""},
		{"above, extractive", 80, nil, true, ""},
		{"above, model", 80, &fixedSummarizer{}, true, "test-model"},
		{"above, model fails", 80, &fixedSummarizer{fail: true}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Now: func() time.Time { return now }}
			if tc.sum != nil {
				o.Summarizer = tc.sum
			}
			s := newStore(t, o)
			conv := seedConversation(t, s, "u", tc.turns, now.Add(-time.Hour))
			const window = 2048
			ms, _ := s.Messages(ctx, conv, 0, 0)
			total := 0
			for _, m := range ms {
				total += m.Tokens + turnOverhead
			}
			if tc.wantFold != (float64(total) > FoldThreshold*window) {
				t.Fatalf("test setup: %d tokens of turns vs window %d", total, window)
			}
			c, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: window})
			if err != nil {
				t.Fatal(err)
			}
			var n int
			var model, content string
			var last int64
			err = s.DB().QueryRow(`SELECT count(*), coalesce(max(model), ''), coalesce(max(content), ''), coalesce(max(last_message_id), 0) FROM summaries WHERE tier = 'fold'`).Scan(&n, &model, &content, &last)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantFold {
				if n != 0 || c.Folded != 0 {
					t.Fatalf("folded %d below the threshold", c.Folded)
				}
				return
			}
			if n != 1 || c.Folded == 0 || model != tc.model {
				t.Fatalf("folds %d, folded %d, model %q; want one fold by %q", n, c.Folded, model, tc.model)
			}
			if !strings.Contains(c.Turns[0].Content, content) || c.Summaries != 1 {
				t.Errorf("the fold is not in the system turn:\n%s", c.Turns[0].Content)
			}
			if c.Turns[1].MessageID <= last {
				t.Errorf("recent turns start at %d, inside the fold ending at %d", c.Turns[1].MessageID, last)
			}
			rest, unfolded := 0, 0
			for _, m := range ms {
				if m.ID > last {
					rest += m.Tokens + turnOverhead
					unfolded++
				}
			}
			if float64(rest) > FoldTarget*window {
				t.Errorf("after folding %d tokens of turns remain, want at most %v", rest, FoldTarget*window)
			}
			if c.Recent != unfolded {
				t.Errorf("the context shows %d of the %d turns left after the fold; want all", c.Recent, unfolded)
			}
			// Assembling again neither folds again nor duplicates.
			appendMsgs(t, s, conv, Message{Content: "and one more"})
			c2, err := s.Assemble(ctx, ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: window})
			if err != nil || c2.Folded != 0 {
				t.Fatalf("second assembly folded %d: %v", c2.Folded, err)
			}
		})
	}
}

func TestContextCache(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }, CacheSize: 2})
	a := seedConversation(t, s, "u", 6, now.Add(-time.Hour))
	b := seedConversation(t, s, "u", 6, now.Add(-time.Hour))
	c := seedConversation(t, s, "v", 6, now.Add(-time.Hour))
	req := func(conv int64, user string) ContextRequest {
		return ContextRequest{User: user, Conversation: conv, Persona: "You are Mai.", Window: 4096}
	}
	get := func(r ContextRequest) Context {
		t.Helper()
		x, err := s.Assemble(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	first := get(req(a, "u"))
	if first.Cached {
		t.Fatal("first assembly cached")
	}
	hit := get(req(a, "u"))
	if !hit.Cached || len(hit.Turns) != len(first.Turns) {
		t.Fatalf("second assembly: cached %v", hit.Cached)
	}
	hit.Turns[0].Content = "changed by the caller"
	if again := get(req(a, "u")); again.Turns[0].Content == "changed by the caller" {
		t.Error("a caller's change reached the cache")
	}
	appendMsgs(t, s, a, Message{Content: "new turn"})
	after := get(req(a, "u"))
	if after.Cached || after.Turns[len(after.Turns)-1].Content != "new turn" {
		t.Fatalf("after append: cached %v, last %q", after.Cached, after.Turns[len(after.Turns)-1].Content)
	}
	if _, err := s.Remember(ctx, Fact{User: "u", Statement: "likes tomatoes"}); err != nil {
		t.Fatal(err)
	}
	if x := get(req(a, "u")); x.Cached || !strings.Contains(x.Turns[0].Content, "likes tomatoes") {
		t.Fatalf("after a new fact: cached %v", x.Cached)
	}
	// Bounded: with room for two, the least recently used goes.
	get(req(b, "u"))
	get(req(a, "u"))
	get(req(c, "v")) // evicts b
	if st := s.CacheStats(); st.Entries != 2 {
		t.Fatalf("cache holds %d entries, bound 2", st.Entries)
	}
	if !get(req(a, "u")).Cached || get(req(b, "u")).Cached {
		t.Error("LRU evicted the wrong entry")
	}
}

func TestExtractAndPrompt(t *testing.T) {
	tok := NewEstimator()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	req := SummaryRequest{Style: StyleKeyPoints, MaxTokens: 40, Messages: []Message{
		{Role: RoleUser, Time: at, Content: "Hi. My sister Ana moves to Lisbon in May. Ana will need help moving boxes."},
		{Role: RoleAssistant, Time: at, Content: "Lovely! I will remind you about Ana and the boxes in May. Anything else?"},
	}}
	got := Extract(tok, req)
	if tok.Count(got) > req.MaxTokens {
		t.Errorf("extract used %d tokens of %d:\n%s", tok.Count(got), req.MaxTokens, got)
	}
	if !strings.Contains(got, "Ana") || strings.Contains(got, "Hi.") {
		t.Errorf("extract kept the wrong sentences:\n%s", got)
	}
	lines := strings.Split(got, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.Index(req.Messages[0].Content+" "+req.Messages[1].Content, lines[i][strings.Index(lines[i], ": ")+2:]) <
			strings.Index(req.Messages[0].Content+" "+req.Messages[1].Content, lines[i-1][strings.Index(lines[i-1], ": ")+2:]) {
			t.Errorf("extract is not in the original order:\n%s", got)
		}
	}
	if Extract(tok, SummaryRequest{MaxTokens: 10}) != "" {
		t.Error("extract of nothing is not empty")
	}
	sys, user := SummaryPrompt(req)
	if !strings.Contains(sys, "key points") || !strings.Contains(sys, "at most 40 tokens") || !strings.Contains(user, "[2026-03-01 12:00] user: Hi.") {
		t.Errorf("prompt:\n%s\n%s", sys, user)
	}
}

// TestConcurrentUse runs appends, assemblies, recalls and a compression
// pass at once on one Store, as the daemon does (run it with -race).
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }, CacheSize: 4})
	convs := []int64{seedConversation(t, s, "a", 30, now.Add(-100*24*time.Hour)), seedConversation(t, s, "b", 30, now.Add(-time.Hour))}
	errs := make(chan error, 64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := convs[w%2]
			user := []string{"a", "b"}[w%2]
			for i := range 20 {
				var err error
				switch i % 3 {
				case 0:
					_, err = s.Append(ctx, Message{ConversationID: conv, Role: RoleUser, Content: fmt.Sprintf("worker %d says tomatoes %d", w, i)})
				case 1:
					_, err = s.Assemble(ctx, ContextRequest{User: user, Conversation: conv, Persona: "p", Window: 1024})
				case 2:
					_, err = s.Recall(ctx, user, "tomatoes", 5)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		_, err := s.Compress(ctx, CompressOptions{})
		if err != nil {
			errs <- err
		}
		close(done)
	}()
	wg.Wait()
	<-done
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'worker'`).Scan(&n); err != nil || n != 28 {
		t.Errorf("%d appended messages indexed, want 28 (%v)", n, err)
	}
}

// From one reply to the next, what the model read before stays word for
// word the same — the system turn with its facts, the earlier turns — and
// what changes (the memories recalled for the new message) comes last, so
// a backend that keeps the prompt it has read reads only the new end.
func TestAssembleKeepsWhatWasReadTheSame(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	old := startConv(t, s, "u")
	appendMsgs(t, s, old,
		Message{Content: "my dog Biscuit loves the beach", Time: now.Add(-29 * 24 * time.Hour)},
		Message{Content: "my sister Ana moved to Lisbon in May", Time: now.Add(-28 * 24 * time.Hour)})
	for _, f := range []Fact{
		{User: "u", Subject: "pets", Statement: "has a dog called Biscuit"},
		{User: "u", Subject: "family", Statement: "has a sister called Ana"},
		{User: "u", Subject: "garden", Statement: "grows tomatoes on the balcony"},
	} {
		if _, err := s.Remember(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	conv := startConv(t, s, "u")
	appendMsgs(t, s, conv, Message{Content: "what does Biscuit love?"})
	req := ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: 4096}
	first, err := s.Assemble(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	appendMsgs(t, s, conv,
		Message{Role: RoleAssistant, Content: "Biscuit loves the beach."},
		Message{Content: "and where does Ana live now?"})
	second, err := s.Assemble(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Turns) != 2 || len(second.Turns) != 4 {
		t.Fatalf("turns: %d then %d, want 2 then 4", len(first.Turns), len(second.Turns))
	}
	if first.Turns[0].Content != second.Turns[0].Content {
		t.Errorf("the system turn changed between replies:\n%q\n%q", first.Turns[0].Content, second.Turns[0].Content)
	}
	for _, f := range []string{"Biscuit", "Ana", "tomatoes"} {
		if !strings.Contains(second.Turns[0].Content, f) {
			t.Errorf("the system turn lacks the fact about %s:\n%s", f, second.Turns[0].Content)
		}
	}
	if !strings.Contains(first.Turns[1].Recalled, "Biscuit loves the beach") || !strings.Contains(second.Turns[3].Recalled, "moved to Lisbon") {
		t.Errorf("recalled: %q, then %q", first.Turns[1].Recalled, second.Turns[3].Recalled)
	}
	if second.Turns[1].Recalled != "" || second.Turns[1].Text() != "what does Biscuit love?" || second.Turns[2].Text() != "Biscuit loves the beach." {
		t.Errorf("the earlier turns read %q, %q", second.Turns[1].Text(), second.Turns[2].Text())
	}
}

// TestAssembleShowsEveryTurnBetweenFolds: from one reply to the next, until
// the next fold, the context keeps its system turn and every turn it showed
// before, in order, and only adds the new ones at its end, however much the
// recalled memories take. When the oldest turn dropped out instead, a
// backend that keeps the prompt it has read (Ollama, LM Studio) had to read
// the whole conversation again on every reply.
func TestAssembleShowsEveryTurnBetweenFolds(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	// An earlier conversation for recall to find: every DM below names a
	// plant, and these turns talk about them at different lengths.
	plants := []string{"tomatoes", "basil", "peppers", "beans", "mint", "lettuce", "thyme"}
	var old []Message
	for i := range 60 {
		p := plants[i%len(plants)]
		old = append(old, Message{Time: now.Add(-30*24*time.Hour + time.Duration(i)*time.Minute),
			Content: fmt.Sprintf("the %s on the balcony %s", p, strings.Repeat("needed water and a little shade again ", 1+i%5))})
	}
	appendMsgs(t, s, startConv(t, s, "u"), old...)
	for _, f := range []Fact{
		{User: "u", Subject: "garden", Statement: "grows vegetables on a balcony"},
		{User: "u", Subject: "home", Statement: "lives in a flat facing south"},
	} {
		if _, err := s.Remember(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	conv := startConv(t, s, "u")
	req := ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: 2048}
	var prev Context
	folds, kept := 0, 0
	for i := range 80 {
		p := plants[(i*3)%len(plants)]
		appendMsgs(t, s, conv, Message{Content: fmt.Sprintf("how are the %s doing after day %d?", p, i)})
		c, err := s.Assemble(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if c.Memories == 0 {
			t.Fatalf("reply %d: nothing recalled for %q, so the test shows nothing", i, p)
		}
		if c.Folded > 0 {
			folds++
		} else if i > 0 {
			if c.Turns[0].Content != prev.Turns[0].Content {
				t.Fatalf("reply %d: the system turn changed without a fold:\n%q\n%q", i, prev.Turns[0].Content, c.Turns[0].Content)
			}
			if len(c.Turns) != len(prev.Turns)+2 {
				t.Fatalf("reply %d: %d turns after %d without a fold; want the 2 new ones added", i, len(c.Turns), len(prev.Turns))
			}
			for j := 1; j < len(prev.Turns); j++ {
				if c.Turns[j].MessageID != prev.Turns[j].MessageID {
					t.Fatalf("reply %d: turn %d is message %d, was %d: the turns slid without a fold", i, j, c.Turns[j].MessageID, prev.Turns[j].MessageID)
				}
			}
			kept++
		}
		prev = c
		appendMsgs(t, s, conv, Message{Role: RoleAssistant, Content: fmt.Sprintf("The %s are fine; %s", p, strings.Repeat("they grew a little ", 1+i%4))})
	}
	if folds < 2 || kept < 40 {
		t.Fatalf("%d folds and %d replies without one; the test needs at least 2 and 40", folds, kept)
	}
}

// TestFoldAheadKeepsFoldsOutOfTheAnswer: called after each answer,
// FoldAhead folds when the next exchange would not fit, so the assembly
// before an answer never has to fold (and the owner never waits for a
// summary before the first words), and the context still shows every
// unsummarised turn.
func TestFoldAheadKeepsFoldsOutOfTheAnswer(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	conv := startConv(t, s, "u")
	req := ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: 2048}
	// Words of their own in every turn: recall finds nothing, so each
	// context has the same room and the last exchange foretells the next.
	say := func(i int, who string) string {
		var w []string
		for j := range 12 {
			w = append(w, fmt.Sprintf("%s%dx%d", who, i, j))
		}
		return strings.Join(w, " ")
	}
	ahead := 0
	for i := range 80 {
		appendMsgs(t, s, conv, Message{Content: say(i, "q")})
		c, err := s.Assemble(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if c.Folded > 0 && i > 0 {
			t.Fatalf("turn %d: the assembly before the answer folded %d messages; FoldAhead after the last answer should have", i, c.Folded)
		}
		ms, err := s.Messages(ctx, conv, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		end, err := s.lastFoldEnd(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		unfolded := 0
		for _, m := range ms {
			if m.ID > end {
				unfolded++
			}
		}
		if c.Recent != unfolded {
			t.Fatalf("turn %d: the context shows %d of %d unsummarised turns", i, c.Recent, unfolded)
		}
		appendMsgs(t, s, conv, Message{Role: RoleAssistant, Content: say(i, "a")})
		n, err := s.FoldAhead(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			ahead++
		}
	}
	if ahead < 2 {
		t.Fatalf("FoldAhead folded %d times in 80 turns; the test needs at least 2", ahead)
	}
}

// TestAssembleKeepsTheFactsWhileTopicsChange: a user with more facts than
// the system turn holds asks about one thing, then another. The facts of
// the system turn, chosen for the first turn after the last fold, stay the
// same, so the backend's cache of the prompt holds; a fact about the new
// topic that is not among them comes with the memories recalled for the
// turn that asks.
func TestAssembleKeepsTheFactsWhileTopicsChange(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }})
	topics := []string{"sailing", "violin", "chess", "pottery", "climbing", "baking", "astronomy", "cycling", "gardening", "origami",
		"fencing", "knitting", "birding", "rowing", "juggling", "skating", "poetry", "welding", "archery", "surfing"}
	for i, tp := range topics {
		if _, err := s.Remember(ctx, Fact{User: "u", Subject: tp, Statement: fmt.Sprintf("has loved %s for %d years and talks about %s with friends every week", tp, i+2, tp)}); err != nil {
			t.Fatal(err)
		}
	}
	conv := startConv(t, s, "u")
	req := ContextRequest{User: "u", Conversation: conv, Persona: "You are Mai.", Window: 2048}
	var system string
	for i, tp := range []string{"sailing", "welding", "surfing", "origami"} {
		appendMsgs(t, s, conv, Message{Content: "what do you think about my " + tp + "?"})
		c, err := s.Assemble(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if c.Folded > 0 {
			t.Fatal("folded: the test wants no fold")
		}
		if i == 0 {
			system = c.Turns[0].Content
			if n := strings.Count(system, "has loved"); n == 0 || n == len(topics) {
				t.Fatalf("the system turn holds %d of %d facts; the test wants some but not all", n, len(topics))
			}
		} else if c.Turns[0].Content != system {
			t.Fatalf("turn %d, about %s: the system turn changed:\n%q\n%q", i, tp, system, c.Turns[0].Content)
		}
		latest := c.Turns[len(c.Turns)-1]
		fact := "has loved " + tp
		if !strings.Contains(system, fact) && !strings.Contains(latest.Recalled, fact) {
			t.Errorf("turn %d: the fact about %s is neither in the system turn nor recalled with the turn:\n%s", i, tp, latest.Recalled)
		}
		appendMsgs(t, s, conv, Message{Role: RoleAssistant, Content: "It sounds lovely."})
	}
}
