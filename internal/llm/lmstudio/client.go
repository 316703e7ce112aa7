// Package lmstudio is the llm.Backend for LM Studio: model management through
// its native REST API (/api/v1, or /api/v0 on servers before 0.4.0), chat and
// embeddings through its OpenAI-compatible API (/v1), which takes the whole
// conversation and custom tools where the native chat does not. The
// OpenAI-compatible part, Compat, also drives Ollama's /v1.
package lmstudio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// DefaultEndpoint is where LM Studio's server listens unless told otherwise.
const DefaultEndpoint = "http://localhost:1234"

// Config says where LM Studio is and how to reach it.
type Config struct {
	Endpoint    string        // DefaultEndpoint when empty
	Token       string        // API token, when the server requires one
	HTTPClient  *http.Client  // http.DefaultClient when nil; it must not set a Timeout
	IdleTimeout time.Duration // how long a silent stream is waited for; DefaultIdleTimeout when 0
}

// Client is an llm.Backend for one LM Studio server. It is safe for
// concurrent use; loads through one Client are serialised so that two
// requests cannot load the same model twice.
type Client struct {
	compat *Compat
	loadMu sync.Mutex

	mu sync.Mutex
	v0 bool // the server has no /api/v1 (before LM Studio 0.4.0)
}

var _ llm.Backend = (*Client)(nil)

// New returns a client for the LM Studio server described by cfg.
func New(cfg Config) *Client {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	return &Client{compat: NewCompat(CompatConfig{
		Endpoint:     cfg.Endpoint,
		Token:        cfg.Token,
		Label:        "LM Studio",
		StartCommand: "lms server start",
		LogHint:      "lms log stream",
		TokenHint:    "it requires an API token (Developer → Server Settings), or a different one",
		HTTPClient:   cfg.HTTPClient,
		IdleTimeout:  cfg.IdleTimeout,
	})}
}

// Name returns "lmstudio".
func (c *Client) Name() string { return "lmstudio" }

// Endpoint returns the server's base URL.
func (c *Client) Endpoint() string { return c.compat.srv.endpoint }

// Compat returns the OpenAI-compatible client the chat and embeddings use.
func (c *Client) Compat() *Compat { return c.compat }

// The model listing of GET /api/v1/models.
type (
	v1Models struct {
		Models []v1Model `json:"models"`
	}
	v1Model struct {
		Type         string `json:"type"` // "llm" | "embedding"
		Publisher    string `json:"publisher"`
		Key          string `json:"key"`
		DisplayName  string `json:"display_name"`
		Architecture string `json:"architecture"`
		Quantization *struct {
			Name          string  `json:"name"`
			BitsPerWeight float64 `json:"bits_per_weight"`
		} `json:"quantization"`
		SizeBytes        int64        `json:"size_bytes"`
		ParamsString     string       `json:"params_string"`
		LoadedInstances  []v1Instance `json:"loaded_instances"`
		MaxContextLength int          `json:"max_context_length"`
		Format           string       `json:"format"`
		Capabilities     *struct {
			Vision            bool `json:"vision"`
			TrainedForToolUse bool `json:"trained_for_tool_use"`
		} `json:"capabilities"`
	}
	v1Instance struct {
		ID     string `json:"id"`
		Config struct {
			ContextLength int `json:"context_length"`
		} `json:"config"`
	}
	// v0Models is GET /api/v0/models, the listing of LM Studio 0.3.6 to 0.3.x.
	v0Models struct {
		Data []struct {
			ID               string   `json:"id"`
			Type             string   `json:"type"` // "llm" | "vlm" | "embeddings"
			Arch             string   `json:"arch"`
			Quantization     string   `json:"quantization"`
			State            string   `json:"state"` // "loaded" | "not-loaded"
			MaxContextLength int      `json:"max_context_length"`
			Capabilities     []string `json:"capabilities"`
		} `json:"data"`
	}
)

// listing is what either API version says about the installed models.
type listing struct {
	models    []llm.Model
	instances []llm.Instance
}

// list fetches the model listing, from /api/v1 or, on older servers, /api/v0.
func (c *Client) list(ctx context.Context) (listing, error) {
	c.mu.Lock()
	v0 := c.v0
	c.mu.Unlock()
	if !v0 {
		var out v1Models
		err := c.compat.do(ctx, "list models", http.MethodGet, "/api/v1/models", nil, &out, nil)
		if err == nil {
			return fromV1(out), nil
		}
		if !isMissingEndpoint(err) {
			return listing{}, err
		}
		c.mu.Lock()
		c.v0 = true
		c.mu.Unlock()
	}
	var out v0Models
	if err := c.compat.do(ctx, "list models", http.MethodGet, "/api/v0/models", nil, &out, nil); err != nil {
		return listing{}, err
	}
	return fromV0(out), nil
}

// LegacyAPI reports whether the server turned out to have only the v0 API
// (LM Studio before 0.4.0): it lists models but cannot load or unload them.
func (c *Client) LegacyAPI() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v0
}

// isMissingEndpoint reports an HTTP 404 from a server that lacks an endpoint.
func isMissingEndpoint(err error) bool {
	var st *statusText
	return errors.As(err, &st) && st.code == http.StatusNotFound
}

func fromV1(out v1Models) listing {
	var l listing
	for _, m := range out.Models {
		mod := llm.Model{
			Name:           m.Key,
			Family:         m.Architecture,
			Parameters:     ParseParams(m.ParamsString),
			ParameterLabel: m.ParamsString,
			SizeBytes:      m.SizeBytes,
			ContextLength:  m.MaxContextLength,
			Capabilities:   llm.Capabilities{Chat: m.Type == "llm", Embedding: m.Type == "embedding"},
		}
		if m.Quantization != nil {
			mod.Quantization = m.Quantization.Name
		}
		if m.Capabilities != nil {
			mod.Capabilities.Vision = m.Capabilities.Vision
			mod.Capabilities.Tools = m.Capabilities.TrainedForToolUse
		}
		l.models = append(l.models, mod)
		for _, in := range m.LoadedInstances {
			// LM Studio does not report memory per instance; the weights'
			// size is the floor of what it uses.
			l.instances = append(l.instances, llm.Instance{
				Model: m.Key, ID: in.ID, SizeBytes: m.SizeBytes, ContextLength: in.Config.ContextLength,
			})
		}
	}
	return l
}

func fromV0(out v0Models) listing {
	var l listing
	for _, m := range out.Data {
		mod := llm.Model{
			Name:          m.ID,
			Family:        m.Arch,
			Quantization:  m.Quantization,
			ContextLength: m.MaxContextLength,
			Capabilities: llm.Capabilities{
				Chat:      m.Type == "llm" || m.Type == "vlm",
				Embedding: m.Type == "embeddings",
				Vision:    m.Type == "vlm",
			},
		}
		for _, c := range m.Capabilities {
			if c == "tool_use" {
				mod.Capabilities.Tools = true
			}
		}
		l.models = append(l.models, mod)
		if m.State == "loaded" {
			l.instances = append(l.instances, llm.Instance{Model: m.ID, ID: m.ID})
		}
	}
	return l
}

// Models returns the installed LLMs and embedding models.
func (c *Client) Models(ctx context.Context) ([]llm.Model, error) {
	l, err := c.list(ctx)
	return l.models, err
}

// Loaded returns the loaded instances. LM Studio reports no memory use per
// instance, so SizeBytes is the weights' size and VRAMBytes is zero.
func (c *Client) Loaded(ctx context.Context) ([]llm.Instance, error) {
	l, err := c.list(ctx)
	return l.instances, err
}

func (c *Client) notFound(model string, models []llm.Model) error {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return &llm.ModelNotFoundError{Backend: "LM Studio at " + c.Endpoint(), Model: model, Available: names}
}

// Load returns the model's loaded instance, loading it first when it has
// none. LM Studio's load endpoint creates a new instance on every call, so
// the listing is checked first and loads are serialised. KeepAlive is not
// applied: LM Studio keeps explicitly loaded models until they are unloaded.
func (c *Client) Load(ctx context.Context, model string, opts llm.LoadOptions) (llm.Instance, error) {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	l, err := c.list(ctx)
	if err != nil {
		return llm.Instance{}, err
	}
	var found *llm.Model
	for i := range l.models {
		if l.models[i].Name == model {
			found = &l.models[i]
		}
	}
	for _, in := range l.instances {
		if in.Model == model || in.ID == model {
			return in, nil
		}
	}
	if found == nil {
		return llm.Instance{}, c.notFound(model, l.models)
	}
	c.mu.Lock()
	v0 := c.v0
	c.mu.Unlock()
	if v0 {
		return c.loadJIT(ctx, *found, opts)
	}
	in := struct {
		Model          string `json:"model"`
		ContextLength  int    `json:"context_length,omitempty"`
		EchoLoadConfig bool   `json:"echo_load_config"`
	}{model, opts.ContextLength, true}
	var out struct {
		InstanceID string `json:"instance_id"`
		LoadConfig struct {
			ContextLength int `json:"context_length"`
		} `json:"load_config"`
	}
	err = c.compat.do(ctx, "load "+model, http.MethodPost, "/api/v1/models/load", in, &out, func(string) error {
		return c.notFound(model, l.models)
	})
	if err != nil {
		return llm.Instance{}, err
	}
	if out.InstanceID == "" {
		return llm.Instance{}, &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"LM Studio at %s loaded %s but did not say which instance it created", c.Endpoint(), model)}
	}
	ctxLen := out.LoadConfig.ContextLength
	if ctxLen == 0 {
		ctxLen = opts.ContextLength
	}
	return llm.Instance{Model: model, ID: out.InstanceID, SizeBytes: found.SizeBytes, ContextLength: ctxLen}, nil
}

// loadJIT loads a model on a server without a load endpoint by asking it for
// one token, which LM Studio answers by loading the model just in time.
func (c *Client) loadJIT(ctx context.Context, m llm.Model, opts llm.LoadOptions) (llm.Instance, error) {
	if m.Capabilities.Embedding {
		if _, err := c.compat.Embed(ctx, m.Name, []string{"load"}); err != nil {
			return llm.Instance{}, err
		}
		return llm.Instance{Model: m.Name, ID: m.Name}, nil
	}
	req := llm.Request{
		Model:     m.Name,
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
		Options:   llm.Options{MaxTokens: 1},
		KeepAlive: opts.KeepAlive,
	}
	s, err := c.compat.Chat(ctx, req)
	if err != nil {
		return llm.Instance{}, err
	}
	if _, _, err := llm.Collect(s); err != nil {
		return llm.Instance{}, err
	}
	return llm.Instance{Model: m.Name, ID: m.Name}, nil
}

// Unload unloads the instance with that id, or every instance of the model
// with that key. Nothing loaded under that name is not an error.
func (c *Client) Unload(ctx context.Context, idOrModel string) error {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	l, err := c.list(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, in := range l.instances {
		if in.ID == idOrModel || in.Model == idOrModel {
			ids = append(ids, in.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	c.mu.Lock()
	v0 := c.v0
	c.mu.Unlock()
	if v0 {
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"LM Studio at %s is older than 0.4.0 and cannot unload over its API; update it or run lms unload %s", c.Endpoint(), idOrModel)}
	}
	for _, id := range ids {
		in := struct {
			InstanceID string `json:"instance_id"`
		}{id}
		if err := c.compat.do(ctx, "unload "+id, http.MethodPost, "/api/v1/models/unload", in, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// Chat streams an answer through /v1/chat/completions. A model that is not
// loaded is loaded just in time by LM Studio, with the TTL from
// req.KeepAlive; when req.Options.ContextLength is set it is loaded first
// through Load, since the OpenAI-compatible API cannot set a context length.
func (c *Client) Chat(ctx context.Context, req llm.Request) (llm.Stream, error) {
	if req.Options.ContextLength > 0 {
		if _, err := c.Load(ctx, req.Model, llm.LoadOptions{ContextLength: req.Options.ContextLength, KeepAlive: req.KeepAlive}); err != nil {
			return nil, err
		}
	}
	return c.compat.Chat(ctx, req)
}

// Embed returns one vector per input through /v1/embeddings.
func (c *Client) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	return c.compat.Embed(ctx, model, inputs)
}

// ParseParams reads a parameter count as LM Studio writes it ("7B", "1.5B",
// "270M", "26B-A4B" for a mixture of experts: the total counts). It returns
// 0 for anything else.
func ParseParams(s string) int64 {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '-'); i > 0 {
		s = s[:i]
	}
	if n, per, ok := strings.Cut(s, "x"); ok {
		experts, err := strconv.Atoi(n)
		if err != nil || experts <= 0 {
			return 0
		}
		return int64(experts) * ParseParams(per)
	}
	if len(s) < 2 {
		return 0
	}
	var mult float64
	switch s[len(s)-1] {
	case 'B', 'b':
		mult = 1e9
	case 'M', 'm':
		mult = 1e6
	case 'K', 'k':
		mult = 1e3
	case 'T', 't':
		mult = 1e12
	default:
		return 0
	}
	f, err := strconv.ParseFloat(s[:len(s)-1], 64)
	if err != nil || f <= 0 {
		return 0
	}
	return int64(f * mult)
}
