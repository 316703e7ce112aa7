package memory

import (
	"context"
	"errors"
	"testing"
	"time"
)

// tableEmbedder returns the vector listed for each text: deterministic
// vectors, so a test can say exactly which message is nearest. It names
// its model "test-embed" unless model is set.
type tableEmbedder struct {
	vectors map[string][]float32
	model   string
	err     error
	calls   int
	inputs  int
}

func (e *tableEmbedder) Embed(_ context.Context, inputs []string) ([][]float32, string, error) {
	e.calls++
	e.inputs += len(inputs)
	if e.err != nil {
		return nil, "", e.err
	}
	model := e.model
	if model == "" {
		model = "test-embed"
	}
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		v, ok := e.vectors[in]
		if !ok {
			v = []float32{0, 0, 0, 1}
		}
		out[i] = v
	}
	return out, model, nil
}

func TestRecallWithDeterministicVectors(t *testing.T) {
	ctx := context.Background()
	emb := &tableEmbedder{vectors: map[string][]float32{
		"feline companion":              {1, 0, 0, 0},
		"my cat sleeps all day":         {0.9, 0.1, 0, 0},
		"the kitten chased a moth":      {0.6, 0.6, 0, 0},
		"we repaired the bicycle":       {0, 1, 0, 0},
		"taxes are due in April":        {-1, 0, 0, 0},
		"a companion for the long walk": {0, 0, 1, 0},
	}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := newStore(t, Options{Now: func() time.Time { return now }, Embedder: emb, Recall: RecallOptions{RecencyWeight: -1}})
	conv := startConv(t, s, "u")
	var taxes Message
	for _, text := range []string{"my cat sleeps all day", "the kitten chased a moth", "we repaired the bicycle", "taxes are due in April"} {
		taxes = appendMsgs(t, s, conv, Message{Content: text, Time: now.Add(-time.Hour)})[0]
	}
	n, err := s.EmbedPending(ctx, 3)
	if err != nil || n != 4 {
		t.Fatalf("EmbedPending = %d, %v", n, err)
	}
	if n, err := s.EmbedPending(ctx, 3); err != nil || n != 0 {
		t.Fatalf("second EmbedPending = %d, %v", n, err)
	}
	// No word of the query is in any message: only the vectors rank.
	got, err := s.Recall(ctx, "u", "feline companion", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"my cat sleeps all day", "the kitten chased a moth", "we repaired the bicycle"}
	if len(got) != len(want) {
		t.Fatalf("recall = %+v", got)
	}
	for i := range want {
		if got[i].Content != want[i] {
			t.Errorf("rank %d = %q, want %q", i+1, got[i].Content, want[i])
		}
	}
	// A message found by both FTS and vectors outranks one found by one.
	both := appendMsgs(t, s, conv, Message{Content: "a companion for the long walk"})[0]
	if err := s.SetEmbedding(ctx, both.ID, "test-embed", []float32{0.95, 0, 0.05, 0}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Recall(ctx, "u", "feline companion", 3)
	if err != nil || got[0].ID != both.ID {
		t.Fatalf("fused recall = %+v, %v; want message %d first", got, err, both.ID)
	}
	// Vectors of another size (another model version) are ignored.
	if got, err = s.Recall(ctx, "u", "feline companion", 10); err != nil || len(got) != 5 {
		t.Fatalf("all five messages: %d results, %v", len(got), err)
	}
	if err := s.SetEmbedding(ctx, taxes.ID, "test-embed", []float32{1, 0}); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Recall(ctx, "u", "feline companion", 10); err != nil || len(got) != 4 {
		t.Fatalf("with a 2-dimensional vector stored: %d results, %v", len(got), err)
	}
	// A failing embedder degrades recall to FTS5, it does not fail it.
	emb.err = errors.New("connection refused")
	got, err = s.Recall(ctx, "u", "feline companion", 3)
	if err != nil || len(got) != 1 || got[0].ID != both.ID {
		t.Fatalf("recall with the embedder down = %+v, %v", got, err)
	}
}

func TestVectorEncoding(t *testing.T) {
	v := normalize([]float32{3, 4})
	if v[0] != 0.6 || v[1] != 0.8 {
		t.Fatalf("normalize = %v", v)
	}
	b := encodeVector(v)
	if len(b) != 8 || b[3] != 0x3f || b[0] != 0x9a {
		t.Fatalf("encoding is not little-endian float32: % x", b)
	}
	if got := decodeVector(b); got[0] != v[0] || got[1] != v[1] {
		t.Fatalf("decode = %v", got)
	}
	if z := normalize([]float32{0, 0}); z[0] != 0 {
		t.Errorf("zero vector = %v", z)
	}
}

// TestVectorIndexFollowsOtherWriters: the in-memory vectors of one Store
// see what another Store on the same database (another process: an import,
// a forget) writes and deletes.
func TestVectorIndexFollowsOtherWriters(t *testing.T) {
	ctx := context.Background()
	emb := &tableEmbedder{vectors: map[string][]float32{"north": {1, 0, 0, 0}}}
	a := newStore(t, Options{Embedder: emb, Recall: RecallOptions{RecencyWeight: -1}})
	b := New(a.DB(), Options{})
	conv := startConv(t, a, "u")
	ms := appendMsgs(t, a, conv, Message{Content: "alpha"}, Message{Content: "beta"}, Message{Content: "gamma"})
	for i, v := range [][]float32{{0, 1, 0, 0}, {0.7, 0.7, 0, 0}, {-1, 0, 0, 0}} {
		if err := a.SetEmbedding(ctx, ms[i].ID, "test-embed", v); err != nil {
			t.Fatal(err)
		}
	}
	first := func() int64 {
		t.Helper()
		got, err := a.Recall(ctx, "u", "north", 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("recall: %+v %v", got, err)
		}
		return got[0].ID
	}
	if got := first(); got != ms[1].ID {
		t.Fatalf("nearest = %d, want beta %d", got, ms[1].ID)
	}
	// Another writer makes gamma the nearest…
	if err := b.SetEmbedding(ctx, ms[2].ID, "test-embed", []float32{1, 0.01, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != ms[2].ID {
		t.Fatalf("after another writer's update nearest = %d, want gamma %d", got, ms[2].ID)
	}
	// …and then forgets it.
	if _, err := a.DB().Exec(`DELETE FROM messages WHERE id = ?`, ms[2].ID); err != nil {
		t.Fatal(err)
	}
	if got := first(); got != ms[1].ID {
		t.Fatalf("after the delete nearest = %d, want beta %d", got, ms[1].ID)
	}
}

// TestEmbedPendingFollowsTheModel: the backlog counts what waits for the
// embedder's model, embedding resumes where it stopped, and a new model
// (the router chose another) embeds everything again under its own name.
func TestEmbedPendingFollowsTheModel(t *testing.T) {
	ctx := context.Background()
	emb := &tableEmbedder{vectors: map[string][]float32{"north": {1, 0, 0, 0}, "north star": {0.9, 0.1, 0, 0}}}
	s := newStore(t, Options{Embedder: emb, Recall: RecallOptions{RecencyWeight: -1}})
	conv := startConv(t, s, "u")
	appendMsgs(t, s, conv, Message{Content: "alpha"}, Message{Content: "beta"}, Message{Content: "north star"}, Message{Content: ""}, Message{Content: "gamma"})
	backlog := func(model string, pending int64) {
		t.Helper()
		st, err := s.Stats(ctx)
		if err != nil || st.Embedding != (EmbedBacklog{model, pending}) {
			t.Fatalf("backlog = %+v, %v; want %s with %d pending", st.Embedding, err, model, pending)
		}
	}
	backlog("", 4) // the empty message has nothing to embed

	// A run cut short after its first batch keeps that batch.
	emb.err = nil
	stopping := &stopAfter{Embedder: emb, calls: 1}
	s.opt.Embedder = stopping
	if n, err := s.EmbedPending(ctx, 3); n != 3 || !errors.Is(err, errStopped) {
		t.Fatalf("interrupted run: %d, %v", n, err)
	}
	backlog("test-embed", 1)
	s.opt.Embedder = emb
	emb.inputs = 0
	if n, err := s.EmbedPending(ctx, 3); n != 1 || err != nil || emb.inputs != 1 {
		t.Fatalf("resumed run: %d, %v, %d inputs sent", n, err, emb.inputs)
	}
	backlog("test-embed", 0)

	// Appended and imported messages join the backlog.
	appendMsgs(t, s, conv, Message{Content: "delta"})
	backlog("test-embed", 1)
	if n, err := s.EmbedPending(ctx, 0); n != 1 || err != nil {
		t.Fatalf("after an append: %d, %v", n, err)
	}

	// The router moved to another embedding model: once a recall has met
	// it, all is embedded again.
	emb.model = "other-embed"
	if _, err := s.Recall(ctx, "u", "north", 1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.EmbedPending(ctx, 2); n != 5 || err != nil {
		t.Fatalf("with a new model: %d, %v", n, err)
	}
	backlog("other-embed", 0)
	got, err := s.Recall(ctx, "u", "north", 1)
	if err != nil || len(got) != 1 || got[0].Content != "north star" {
		t.Fatalf("recall with the new model's vectors: %+v, %v", got, err)
	}
}

var errStopped = errors.New("stopped")

// stopAfter answers calls times, then fails as a daemon shutting down would.
type stopAfter struct {
	Embedder
	calls int
}

func (s *stopAfter) Embed(ctx context.Context, inputs []string) ([][]float32, string, error) {
	if s.calls == 0 {
		return nil, "", errStopped
	}
	s.calls--
	return s.Embedder.Embed(ctx, inputs)
}
