package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	ollamaclient "github.com/maicompanion/mai/internal/llm/ollama"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollama is the real Ollama the tests of this package share.
var ollama = &ollamatest.Shared{}

func TestMain(m *testing.M) { os.Exit(ollamatest.Main(m, ollama)) }

// ollamaEmbedder calls a real Ollama's /api/embed with model. It stands in
// for the router so this package does not depend on it; the request is
// Ollama's documented one.
type ollamaEmbedder struct{ url, model string }

func (o ollamaEmbedder) Embed(ctx context.Context, inputs []string) ([][]float32, string, error) {
	vs, err := o.embed(ctx, inputs)
	return vs, o.model, err
}

func (o ollamaEmbedder) embed(ctx context.Context, inputs []string) ([][]float32, error) {
	body, _ := json.Marshal(map[string]any{"model": o.model, "input": inputs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url+"/api/embed", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ollama embed: %s", resp.Status)
	}
	var r struct {
		Embeddings [][]float32 `json:"embeddings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	return r.Embeddings, nil
}

// TestRecallWithOllamaEmbeddings is the plumbing test: a real Ollama embeds
// stored messages and the query with the tiny random-weight embedding model.
// Random weights make similarity between different texts meaningless, but
// the same text embeds to the same vector, so it must come back first.
func TestRecallWithOllamaEmbeddings(t *testing.T) {
	testenv.Short(t, "starts ollama")
	srv := ollama.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newStore(t, Options{Embedder: ollamaEmbedder{srv.URL(), ollamatest.EmbedModel}})
	conv := startConv(t, s, "u")
	texts := []string{
		"the lighthouse keeper feeds the cat at dawn",
		"quarterly tax forms are due in april",
		"we fixed the bicycle chain together",
		"grandma's recipe uses cardamom and honey",
		"the train to Porto leaves at nine",
	}
	var ids []int64
	for _, text := range texts {
		ids = append(ids, appendMsgs(t, s, conv, Message{Content: text})[0].ID)
	}
	n, err := s.EmbedPending(ctx, 2)
	if err != nil {
		t.Fatalf("EmbedPending: %v\n%s", err, srv.Logs())
	}
	if n != len(texts) {
		t.Fatalf("embedded %d messages, want %d", n, len(texts))
	}
	var dims, rows int
	if err := s.DB().QueryRow(`SELECT count(*), max(dims) FROM embeddings WHERE model = ?`, ollamatest.EmbedModel).Scan(&rows, &dims); err != nil || rows != len(texts) || dims == 0 {
		t.Fatalf("stored %d vectors of %d dimensions, %v", rows, dims, err)
	}
	var blob []byte
	if err := s.DB().QueryRow(`SELECT vector FROM embeddings LIMIT 1`).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	var norm float64
	for _, x := range decodeVector(blob) {
		norm += float64(x) * float64(x)
	}
	if len(blob) != 4*dims || math.Abs(norm-1) > 1e-3 {
		t.Errorf("stored vector: %d bytes for %d dims, squared norm %v", len(blob), dims, norm)
	}
	for i, text := range texts {
		vs, err := s.vectorMessages(ctx, "u", text, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 || vs[0].ID != ids[i] {
			t.Errorf("vector search for %q: %+v, want message %d first", text, vs, ids[i])
		}
		got, err := s.Recall(ctx, "u", text, 3)
		if err != nil || len(got) == 0 || got[0].ID != ids[i] {
			t.Errorf("Recall(%q) = %+v, %v", text, got, err)
		}
	}
}

// ollamaChat sends chat requests to a real Ollama for one model: the
// router's part (choosing the model) done by hand, over Mai's own client.
type ollamaChat struct {
	c     *ollamaclient.Client
	model string
}

func (o ollamaChat) Chat(ctx context.Context, req llm.Request) (llm.Stream, error) {
	req.Model = o.model
	return o.c.Chat(ctx, req)
}

// TestModelSummaryWithOllama: compression summaries come from the real tiny
// chat model (named in the summary), and from extraction when its server
// is gone.
func TestModelSummaryWithOllama(t *testing.T) {
	testenv.Short(t, "starts ollama")
	srv := ollama.Server(t)
	c, err := ollamaclient.New(srv.URL(), ollamaclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sum := NewModelSummarizer(ollamaChat{c, ollamatest.ChatModel})
	s := newStore(t, Options{Now: func() time.Time { return now }, Summarizer: sum})
	conv := startConv(t, s, "u")
	day := now.Add(-10 * 24 * time.Hour)
	appendMsgs(t, s, conv,
		Message{Content: "We planted tomatoes by the fence.", Time: day},
		Message{Role: RoleAssistant, Content: "Water them every evening.", Time: day.Add(time.Minute)})
	r, err := s.Compress(ctx, CompressOptions{})
	if err != nil || r.KeyPoints != 1 {
		t.Fatalf("compress: %+v, %v\n%s", r, err, srv.Logs())
	}
	var text, model string
	if err := s.DB().QueryRow(`SELECT content, model FROM summaries WHERE tier = 'day'`).Scan(&text, &model); err != nil {
		t.Fatal(err)
	}
	if model != ollamatest.ChatModel || strings.TrimSpace(text) == "" || text == Extract(s.tok, SummaryRequest{Messages: []Message{{Role: RoleUser, Content: "We planted tomatoes by the fence."}, {Role: RoleAssistant, Content: "Water them every evening."}}, MaxTokens: 256}) {
		t.Errorf("day summary by %q: %q", model, text)
	}

	// The same pass with the model's server gone falls back to extraction.
	down, err := ollamaclient.New("http://127.0.0.1:9", ollamaclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, Options{Now: func() time.Time { return now }, Summarizer: NewModelSummarizer(ollamaChat{down, ollamatest.ChatModel})})
	conv2 := startConv(t, s2, "u")
	appendMsgs(t, s2, conv2, Message{Content: "We planted tomatoes by the fence.", Time: day})
	if _, err := s2.Compress(ctx, CompressOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s2.DB().QueryRow(`SELECT content, model FROM summaries WHERE tier = 'day'`).Scan(&text, &model); err != nil {
		t.Fatal(err)
	}
	if model != "" || text != "- user: We planted tomatoes by the fence." {
		t.Errorf("fallback summary by %q: %q", model, text)
	}
}
