package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/maicompanion/mai/internal/gguf"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/store"
)

// cacheName is the file in the model cache directory that holds what the
// backends reported.
const cacheName = "backends.json"

// ModelCache is MODEL_CACHE_DIR: model files Mai may read — GGUF headers
// give a model's layers, context length and KV cache size without loading
// it — and what the backends reported about each model, so that a
// restarted Mai plans with measured sizes at once. It is safe for
// concurrent use; several processes may share it (each write replaces the
// file whole).
type ModelCache struct {
	dir string

	mu      sync.Mutex
	state   cacheState
	written []byte                 // the file as last read or written
	bySize  map[int64][]gguf.Shape // GGUF shapes by file size, once scanned
	scanned bool
}

type cacheState struct {
	Endpoints map[string]cachedEndpoint `json:"endpoints"` // by backend and URL
	Files     map[string]cachedFile     `json:"files"`     // GGUF headers read, by path
}

type cachedEndpoint struct {
	Models []llm.Model           `json:"models"`
	Seen   map[string]cachedSize `json:"seen"` // model → memory measured loaded
}

type cachedSize struct {
	Bytes   int64 `json:"bytes"`
	Context int   `json:"context"`
}

type cachedFile struct {
	Size    int64      `json:"size"`
	ModTime time.Time  `json:"mod_time"`
	Shape   gguf.Shape `json:"shape"`
	Err     string     `json:"error,omitempty"` // not a model file Mai can read
}

// OpenModelCache reads the cache in dir; a missing directory or file is an
// empty cache. A cache file that cannot be parsed is set aside (its
// content was only a cache) and the error says so.
func OpenModelCache(dir string) (*ModelCache, error) {
	c := &ModelCache{dir: dir, state: cacheState{Endpoints: map[string]cachedEndpoint{}, Files: map[string]cachedFile{}}}
	b, err := os.ReadFile(filepath.Join(dir, cacheName))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("model cache: %w", err)
	}
	var st cacheState
	if err := json.Unmarshal(b, &st); err != nil {
		return c, fmt.Errorf("model cache %s is unreadable, starting afresh: %w", filepath.Join(dir, cacheName), err)
	}
	if st.Endpoints != nil {
		c.state.Endpoints = st.Endpoints
	}
	if st.Files != nil {
		c.state.Files = st.Files
	}
	c.written = b
	return c, nil
}

func cacheKey(be llm.Backend) string { return be.Name() + " " + be.Endpoint() }

// seen returns the memory the models of be were measured to take.
func (c *ModelCache) seen(be llm.Backend) map[string]seenSize {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]seenSize{}
	for m, s := range c.state.Endpoints[cacheKey(be)].Seen {
		out[m] = seenSize{bytes: s.Bytes, context: s.Context}
	}
	return out
}

// complete fills in what a listing of be's models leaves out — the KV
// cache size, the context length, the parameter count — from what the
// backend reported before about the same model, else from a GGUF file in
// the cache directory of exactly the model's size.
func (c *ModelCache) complete(be llm.Backend, models []llm.Model) []llm.Model {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scan()
	before := c.state.Endpoints[cacheKey(be)].Models
	out := make([]llm.Model, len(models))
	for i, m := range models {
		for _, old := range before {
			if old.Name == m.Name && old.SizeBytes == m.SizeBytes {
				fill(&m, old.KVBytesPerToken, old.ContextLength, old.Parameters)
			}
		}
		if shapes := c.bySize[m.SizeBytes]; len(shapes) == 1 && m.SizeBytes > 0 {
			s := shapes[0]
			fill(&m, s.KVBytesPerToken, s.ContextLength, s.Parameters)
		}
		out[i] = m
	}
	return out
}

func fill(m *llm.Model, kv int64, ctx int, params int64) {
	if m.KVBytesPerToken == 0 {
		m.KVBytesPerToken = kv
	}
	if m.ContextLength == 0 {
		m.ContextLength = ctx
	}
	if m.Parameters == 0 {
		m.Parameters = params
	}
}

// scan reads the header of every GGUF file under the directory (following
// links, so a link to LM Studio's model folder works) once per process,
// reusing what the cache file says of a file whose size and time are
// unchanged. c.mu is held.
func (c *ModelCache) scan() {
	if c.scanned {
		return
	}
	c.scanned = true
	c.bySize = map[int64][]gguf.Shape{}
	files := map[string]cachedFile{}
	visit := func(path string, info fs.FileInfo) {
		if old, ok := c.state.Files[path]; ok && old.Size == info.Size() && old.ModTime.Equal(info.ModTime()) {
			files[path] = old
		} else {
			files[path] = readShape(path, info)
		}
		if f := files[path]; f.Err == "" {
			c.bySize[f.Size] = append(c.bySize[f.Size], f.Shape)
		}
	}
	walk(c.dir, visit, 0)
	c.state.Files = files
}

// walk calls visit for each .gguf file under dir, following links to
// directories a few levels deep (a loop of links ends there).
func walk(dir string, visit func(string, fs.FileInfo), depth int) {
	if depth > 4 {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path) // follows links
		switch {
		case err != nil:
		case info.IsDir():
			walk(path, visit, depth+1)
		case info.Mode().IsRegular() && strings.EqualFold(filepath.Ext(path), ".gguf"):
			visit(path, info)
		}
	}
}

func readShape(path string, info fs.FileInfo) cachedFile {
	cf := cachedFile{Size: info.Size(), ModTime: info.ModTime()}
	f, err := os.Open(path)
	if err != nil {
		cf.Err = err.Error()
		return cf
	}
	defer f.Close()
	h, err := gguf.ReadHeader(f)
	if err == nil {
		cf.Shape, err = gguf.ShapeOf(h)
	}
	if err != nil {
		cf.Err = err.Error()
	}
	return cf
}

// remember stores what be reported: its models, and the memory each took
// when loaded. The file is written only when that changed, whole and
// atomically.
func (c *ModelCache) remember(be llm.Backend, models []llm.Model, seen map[string]seenSize) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ce := cachedEndpoint{Models: models, Seen: map[string]cachedSize{}}
	if models == nil {
		ce.Models = c.state.Endpoints[cacheKey(be)].Models
	}
	for m, s := range seen {
		ce.Seen[m] = cachedSize{Bytes: s.bytes, Context: s.context}
	}
	c.state.Endpoints[cacheKey(be)] = ce
	b, err := json.MarshalIndent(c.state, "", " ")
	if err != nil {
		return fmt.Errorf("model cache: %w", err)
	}
	if bytes.Equal(b, c.written) {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("model cache: %w", err)
	}
	if err := store.WriteFileAtomic(filepath.Join(c.dir, cacheName), b, 0o600); err != nil {
		return fmt.Errorf("model cache: %w", err)
	}
	c.written = b
	return nil
}
