package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// Version returns the server's version, e.g. "0.17.4".
func (c *Client) Version(ctx context.Context) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	if err := c.call(ctx, c.timeout, http.MethodGet, "/api/version", nil, &v); err != nil {
		return "", err
	}
	if v.Version == "" {
		return "", c.bad("did not say its version on /api/version")
	}
	return v.Version, nil
}

type tagsModel struct {
	Name    string  `json:"name"`
	Size    int64   `json:"size"`
	Details details `json:"details"`
}

type details struct {
	Family            string `json:"family"`
	ParameterSize     string `json:"parameter_size"`
	QuantizationLevel string `json:"quantization_level"`
}

func (c *Client) tags(ctx context.Context) ([]tagsModel, error) {
	var r struct {
		Models []tagsModel `json:"models"`
	}
	if err := c.call(ctx, c.timeout, http.MethodGet, "/api/tags", nil, &r); err != nil {
		return nil, err
	}
	return r.Models, nil
}

// showResponse is the part of /api/show Mai reads. model_info values stay
// raw: only a few are decoded, and the tokenizer arrays can be large.
type showResponse struct {
	Details      details                    `json:"details"`
	ModelInfo    map[string]json.RawMessage `json:"model_info"`
	Capabilities []string                   `json:"capabilities"`
}

func (c *Client) show(ctx context.Context, model string) (showResponse, error) {
	var r showResponse
	err := c.call(ctx, c.timeout, http.MethodPost, "/api/show", map[string]string{"model": model}, &r)
	return r, c.notFound(ctx, model, err)
}

// Models lists the installed models, described by /api/tags and, for each,
// /api/show (context length, parameter count, capabilities, KV cache size).
// A model whose details cannot be read is still listed, with what the list
// says about it.
func (c *Client) Models(ctx context.Context) ([]llm.Model, error) {
	tags, err := c.tags(ctx)
	if err != nil {
		return nil, err
	}
	models := make([]llm.Model, len(tags))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // a few /api/show calls at a time
	for i, t := range tags {
		models[i] = llm.Model{
			Name:           t.Name,
			Family:         t.Details.Family,
			ParameterLabel: t.Details.ParameterSize,
			Quantization:   t.Details.QuantizationLevel,
			SizeBytes:      t.Size,
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if s, err := c.show(ctx, t.Name); err == nil {
				s.apply(&models[i])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ollama models: %w", context.Cause(ctx))
	}
	return models, nil
}

// apply copies what /api/show adds to /api/tags into m.
func (s showResponse) apply(m *llm.Model) {
	if s.Details.Family != "" {
		m.Family = s.Details.Family
	}
	if s.Details.QuantizationLevel != "" {
		m.Quantization = s.Details.QuantizationLevel
	}
	for _, cap := range s.Capabilities {
		switch cap {
		case "completion":
			m.Capabilities.Chat = true
		case "embedding":
			m.Capabilities.Embedding = true
		case "tools":
			m.Capabilities.Tools = true
		case "vision":
			m.Capabilities.Vision = true
		}
	}
	var arch string
	_ = json.Unmarshal(s.ModelInfo["general.architecture"], &arch)
	m.Parameters = s.int("general.parameter_count")
	m.ContextLength = int(s.int(arch + ".context_length"))
	m.KVBytesPerToken = s.kvBytesPerToken(arch)
}

// int reads a numeric model_info value; 0 when absent or not a number.
func (s showResponse) int(key string) int64 {
	var v float64
	if json.Unmarshal(s.ModelInfo[key], &v) != nil {
		return 0
	}
	return int64(v)
}

// perLayer reads a model_info value that is either one number or one number
// per layer (some architectures vary the KV heads by layer).
func (s showResponse) perLayer(key string, layers int) []int64 {
	raw := s.ModelInfo[key]
	var one float64
	if json.Unmarshal(raw, &one) == nil {
		out := make([]int64, layers)
		for i := range out {
			out[i] = int64(one)
		}
		return out
	}
	var many []float64
	if json.Unmarshal(raw, &many) == nil && len(many) == layers {
		out := make([]int64, layers)
		for i, v := range many {
			out[i] = int64(v)
		}
		return out
	}
	return nil
}

// kvBytesPerToken is what one token of context costs in Ollama's default
// 16-bit KV cache: keys and values for every KV head of every layer.
func (s showResponse) kvBytesPerToken(arch string) int64 {
	layers := int(s.int(arch + ".block_count"))
	if layers <= 0 || layers > 1<<12 {
		return 0
	}
	heads := s.int(arch + ".attention.head_count")
	embd := s.int(arch + ".embedding_length")
	kLen, vLen := s.int(arch+".attention.key_length"), s.int(arch+".attention.value_length")
	if kLen == 0 && heads > 0 {
		kLen = embd / heads
	}
	if vLen == 0 {
		vLen = kLen
	}
	kvHeads := s.perLayer(arch+".attention.head_count_kv", layers)
	if _, ok := s.ModelInfo[arch+".attention.head_count_kv"]; !ok {
		kvHeads = s.perLayer(arch+".attention.head_count", layers)
	}
	var total int64
	for _, h := range kvHeads {
		total += (kLen + vLen) * h * 2
	}
	return total
}

type psModel struct {
	Name          string    `json:"name"`
	Model         string    `json:"model"`
	Size          int64     `json:"size"`
	SizeVRAM      int64     `json:"size_vram"`
	ExpiresAt     time.Time `json:"expires_at"`
	ContextLength int       `json:"context_length"`
}

func (p psModel) instance() llm.Instance {
	in := llm.Instance{Model: p.Name, ID: p.Name, SizeBytes: p.Size, VRAMBytes: p.SizeVRAM, ContextLength: p.ContextLength, ExpiresAt: p.ExpiresAt}
	// keep_alive -1 shows as an expiry centuries away: that is "never".
	if in.ExpiresAt.After(time.Now().AddDate(100, 0, 0)) {
		in.ExpiresAt = time.Time{}
	}
	return in
}

// Loaded lists the models resident in memory (/api/ps).
func (c *Client) Loaded(ctx context.Context) ([]llm.Instance, error) {
	var r struct {
		Models []psModel `json:"models"`
	}
	if err := c.call(ctx, c.timeout, http.MethodGet, "/api/ps", nil, &r); err != nil {
		return nil, err
	}
	out := make([]llm.Instance, 0, len(r.Models))
	for _, m := range r.Models {
		out = append(out, m.instance())
	}
	return out, nil
}

// loadedAs returns the resident instance of model, if any.
func (c *Client) loadedAs(ctx context.Context, model string) (llm.Instance, bool, error) {
	loaded, err := c.Loaded(ctx)
	if err != nil {
		return llm.Instance{}, false, err
	}
	want := fullName(model)
	for _, in := range loaded {
		if fullName(in.Model) == want {
			return in, true, nil
		}
	}
	return llm.Instance{}, false, nil
}

// Load makes model resident with the given context length and keep-alive,
// by a chat request without messages (an embed request without input for
// embedding-only models), and returns the instance /api/ps then shows. A
// model already resident is returned as it is.
func (c *Client) Load(ctx context.Context, model string, opts llm.LoadOptions) (llm.Instance, error) {
	if in, ok, err := c.loadedAs(ctx, model); err != nil || ok {
		return in, err
	}
	s, err := c.show(ctx, model)
	if err != nil {
		return llm.Instance{}, err
	}
	body := map[string]any{"model": model}
	if ka := keepAlive(opts.KeepAlive); ka != nil {
		body["keep_alive"] = ka
	}
	if opts.ContextLength > 0 {
		body["options"] = map[string]any{"num_ctx": opts.ContextLength}
	}
	path := "/api/chat"
	if !slices.Contains(s.Capabilities, "completion") && slices.Contains(s.Capabilities, "embedding") {
		path, body["input"] = "/api/embed", []string{}
	} else {
		body["messages"], body["stream"] = []any{}, false
	}
	var ignored json.RawMessage
	if err := c.call(ctx, c.header, http.MethodPost, path, body, &ignored); err != nil {
		return llm.Instance{}, c.notFound(ctx, model, err)
	}
	in, ok, err := c.loadedAs(ctx, model)
	if err != nil {
		return llm.Instance{}, err
	}
	if !ok {
		return llm.Instance{}, c.bad("said %s was loaded, but /api/ps does not list it", model)
	}
	return in, nil
}

// unloadPoll is how often Unload looks whether the model has gone.
const unloadPoll = 25 * time.Millisecond

// Unload asks Ollama to unload the model (keep_alive 0) and waits until
// /api/ps no longer lists it, so its memory is free when Unload returns. The
// id of an Ollama instance is its model name. A model that is not loaded, or
// not installed, is not an error.
func (c *Client) Unload(ctx context.Context, idOrModel string) error {
	body := map[string]any{"model": idOrModel, "messages": []any{}, "keep_alive": 0, "stream": false}
	var ignored json.RawMessage
	err := c.call(ctx, c.timeout, http.MethodPost, "/api/chat", body, &ignored)
	var nf *notFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	deadline := time.Now().Add(c.timeout)
	for {
		_, ok, err := c.loadedAs(ctx, idOrModel)
		if err != nil || !ok {
			return err
		}
		if time.Now().After(deadline) {
			return c.bad("still lists %s as loaded %s after unloading it", idOrModel, c.timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ollama unload %s: %w", idOrModel, context.Cause(ctx))
		case <-time.After(unloadPoll):
		}
	}
}

// Embed returns one vector per input (/api/embed).
func (c *Client) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	var r struct {
		Embeddings [][]float32 `json:"embeddings"`
	}
	body := map[string]any{"model": model, "input": inputs}
	if err := c.call(ctx, c.header, http.MethodPost, "/api/embed", body, &r); err != nil {
		return nil, c.notFound(ctx, model, err)
	}
	if len(r.Embeddings) != len(inputs) {
		return nil, c.bad("returned %d embeddings for %d inputs", len(r.Embeddings), len(inputs))
	}
	for i, e := range r.Embeddings {
		if len(e) == 0 {
			return nil, c.bad("returned an empty embedding for input %d", i)
		}
	}
	return r.Embeddings, nil
}
