package router

import (
	"errors"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
)

func embedModel(name string, sizeMiB int64) llm.Model {
	return llm.Model{Name: name, SizeBytes: sizeMiB << 20, Capabilities: llm.Capabilities{Embedding: true}}
}

func TestEmbed(t *testing.T) {
	c := newClock()
	ollama := newFake("ollama", c, chatModel("llama3.2:3b", 3, 2), embedModel("mxbai-embed-large:latest", 670), embedModel("nomic-embed-text:latest", 274))
	lms := newFake("lmstudio", c, embedModel("text-embedding-nomic-embed-text-v1.5", 84))
	tests := []struct {
		name  string
		prefs []string
		want  string
	}{
		{"smallest without preferences", nil, "lmstudio:text-embedding-nomic-embed-text-v1.5"},
		{"the preference list first", []string{"ollama:llama3.2:3b", "ollama:mxbai-embed-large"}, "ollama:mxbai-embed-large:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, 8, tt.prefs, ollama, lms)
			vecs, ref, err := s.r.Embed(t.Context(), []string{"a", "b"})
			if err != nil || ref != tt.want || len(vecs) != 2 {
				t.Fatalf("Embed = %d vectors from %q, %v; want %s", len(vecs), ref, err, tt.want)
			}
		})
	}

	// The choice sticks while it answers, and changes only when it fails.
	s := newSetup(t, 8, nil, ollama, lms)
	for range 2 {
		if _, ref, err := s.r.Embed(t.Context(), []string{"x"}); err != nil || ref != "lmstudio:text-embedding-nomic-embed-text-v1.5" {
			t.Fatalf("Embed = %q, %v", ref, err)
		}
	}
	lms.mu.Lock()
	lms.down = true
	lms.mu.Unlock()
	if _, ref, err := s.r.Embed(t.Context(), []string{"x"}); err != nil || ref != "ollama:nomic-embed-text:latest" {
		t.Errorf("after the embedder failed: %q, %v", ref, err)
	}

	none := newSetup(t, 8, nil, newFake("ollama", c, chatModel("llama3.2:3b", 3, 2)))
	if _, _, err := none.r.Embed(t.Context(), []string{"x"}); !errors.Is(err, ErrNoEmbedder) {
		t.Errorf("no embedding model: %v", err)
	}
}
