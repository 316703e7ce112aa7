package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
	"github.com/maicompanion/mai/internal/testenv"
)

// ollamaEmbedder calls a real Ollama's /api/embed. It stands in for the
// router's backend so this package does not depend on it; the request is
// Ollama's documented one.
type ollamaEmbedder struct{ url string }

func (o ollamaEmbedder) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	body, _ := json.Marshal(map[string]any{"model": model, "input": inputs})
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
	srv := ollamatest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := newStore(t, Options{Embedder: ollamaEmbedder{srv.URL()}, EmbedModel: ollamatest.EmbedModel})
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
		vs, err := s.vectorMessages(ctx, "u", text, 3)
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
