package router_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/gguf"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/router"
)

// A GGUF file in MODEL_CACHE_DIR gives the KV cache size LM Studio does not
// report, and what the backend reported is kept for the next start.
func TestModelCache(t *testing.T) {
	dir := t.TempDir()
	// The model file under a publisher folder, as LM Studio keeps them.
	f, err := gguf.TinyLlama(gguf.TinyConfig{ContextLength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lmstudio", "acme", "Tiny-GGUF", "tiny-F16.gguf")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := lmstudiotest.New(t, lmstudiotest.Model{Key: "acme/tiny", SizeBytes: info.Size(), ParamsString: "1M", MaxContextLength: 4096})
	start := func() (*router.Router, llm.Backend) {
		cache, err := router.OpenModelCache(dir)
		if err != nil {
			t.Fatal(err)
		}
		be := lmstudio.New(lmstudio.Config{Endpoint: srv.URL})
		r, err := router.New(router.Config{
			Endpoints: []router.Endpoint{{Backend: be, Pool: "gpu"}}, Pools: []router.Pool{{Name: "gpu", Bytes: 1 << 30}},
			ContextLength: 2048, Headroom: 1 << 20, Cache: cache,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r, be
	}
	r, _ := start()
	p := r.Plan(t.Context())
	// TinyConfig's defaults: 2 blocks × 4 KV heads × (16 + 16 dimensions) × 2 bytes.
	if m := p.Endpoints[0].Installed; len(m) != 1 || m[0].KVBytesPerToken != 512 {
		t.Fatalf("installed = %+v; the GGUF header gives 512 bytes a token", m)
	}
	if c := p.Candidates[0]; c.NeedBytes != info.Size()+512*2048+1<<20 {
		t.Errorf("need = %d, want the file, 512 × 2048 of KV and the headroom", c.NeedBytes)
	}
	if err := r.Switch(t.Context(), "lmstudio:acme/tiny"); err != nil {
		t.Fatal(err)
	}
	// The next decision sees it loaded: its size is measured and kept. (A
	// plan is a report, and writes nothing.)
	if err := r.Switch(t.Context(), "lmstudio:acme/tiny"); err != nil {
		t.Fatal(err)
	}

	// Moving the file away: the next start still knows the shape, from
	// what was reported, and the size measured while it was loaded.
	if err := os.RemoveAll(filepath.Join(dir, "lmstudio")); err != nil {
		t.Fatal(err)
	}
	r2, _ := start()
	p = r2.Plan(t.Context())
	if m := p.Endpoints[0].Installed; len(m) != 1 || m[0].KVBytesPerToken != 512 {
		t.Errorf("after a restart, installed = %+v", m)
	}
	b, err := os.ReadFile(filepath.Join(dir, "backends.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Loaded with a 2048-token context, it took its weights and 512 × 2048 of KV.
	measured := fmt.Sprintf(`"bytes": %d,`+"\n"+`     "context": 2048`, info.Size()+512*2048)
	if !json.Valid(b) || !strings.Contains(string(b), `"acme/tiny"`) || !strings.Contains(string(b), measured) {
		t.Errorf("backends.json = %s", b)
	}
}

func TestModelCacheUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "backends.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := router.OpenModelCache(dir)
	if c == nil || err == nil || !strings.Contains(err.Error(), "starting afresh") {
		t.Errorf("cache %v, err %v: a broken cache is set aside with a word", c, err)
	}
	if c, err := router.OpenModelCache(filepath.Join(dir, "absent")); c == nil || err != nil {
		t.Errorf("a missing directory is an empty cache: %v", err)
	}
}
