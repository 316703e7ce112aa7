package memory

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// corpus generates a deterministic chat history: words from a 5,000-word
// vocabulary of made-up words drawn with Zipf's law (as word use in real
// text is), 6–30 words a message, 50 messages a conversation, spread over
// two years before now.
type corpus struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newCorpus(seed uint64) *corpus {
	rng := rand.New(rand.NewPCG(seed, 1))
	syll := strings.Fields("ka lo mi nu pe ra si to vu za be da fi go hu jo ke la mo ni po ru sa te vi wo xa yu ze bi")
	seen := map[string]bool{}
	var vocab []string
	for len(vocab) < 5000 {
		n := 2 + rng.IntN(2)
		var b strings.Builder
		for range n {
			b.WriteString(syll[rng.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			vocab = append(vocab, w)
		}
	}
	return &corpus{rng: rng, zipf: rand.NewZipf(rng, 1.07, 2, uint64(len(vocab)-1)), vocab: vocab}
}

func (c *corpus) sentence() string {
	n := 6 + c.rng.IntN(25)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = c.vocab[c.zipf.Uint64()]
	}
	return strings.Join(ws, " ") + "."
}

// query returns two mid-frequency words (ranks 100–1,000): each is in
// roughly 0.2–2% of messages, like the names and topics people ask about.
func (c *corpus) query() string {
	return c.vocab[100+c.rng.IntN(900)] + " " + c.vocab[100+c.rng.IntN(900)]
}

// fill appends n messages for user, ending at now, in batches.
func (c *corpus) fill(tb testing.TB, s *Store, user string, n int, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	span := 2 * 365 * 24 * time.Hour
	step := span / time.Duration(n)
	start := now.Add(-span)
	var conv int64
	batch := make([]Message, 0, 1000)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := s.AppendBatch(ctx, batch); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range n {
		if i%50 == 0 {
			flush()
			var err error
			if conv, err = s.StartConversation(ctx, user, "bench"); err != nil {
				tb.Fatal(err)
			}
		}
		role := RoleUser
		if i%2 == 1 {
			role = RoleAssistant
		}
		batch = append(batch, Message{ConversationID: conv, Role: role, Content: c.sentence(), Time: start.Add(time.Duration(i) * step)})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
}
