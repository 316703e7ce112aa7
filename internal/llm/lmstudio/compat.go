package lmstudio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// DefaultIdleTimeout is how long a stream may stay silent before it is
// abandoned as stalled. It covers a JIT load of a large model, which happens
// before the first byte of the answer.
const DefaultIdleTimeout = 3 * time.Minute

// Compat is a client of the OpenAI-compatible endpoints that LM Studio and
// Ollama both serve: /v1/chat/completions (streamed), /v1/embeddings and
// /v1/models. Client uses it for LM Studio; it drives Ollama's /v1 as well.
// It is safe for concurrent use.
type Compat struct {
	srv   server
	token string
	http  *http.Client
	idle  time.Duration
}

// CompatConfig describes the server a Compat talks to.
type CompatConfig struct {
	Endpoint string // base URL without /v1, e.g. "http://localhost:1234"
	Token    string // sent as "Authorization: Bearer" when set

	// Label names the server in errors ("LM Studio", "Ollama"); StartCommand
	// says how to start it, LogHint where its own errors are explained,
	// TokenHint what to do when it refuses the token.
	Label, StartCommand, LogHint, TokenHint string

	HTTPClient  *http.Client  // http.DefaultClient when nil; it must not set a Timeout, which would cut long answers
	IdleTimeout time.Duration // DefaultIdleTimeout when 0
}

// NewCompat returns a client for the OpenAI-compatible API at cfg.Endpoint.
func NewCompat(cfg CompatConfig) *Compat {
	c := &Compat{
		srv: server{
			label:     cfg.Label,
			endpoint:  strings.TrimRight(cfg.Endpoint, "/"),
			startCmd:  cfg.StartCommand,
			logHint:   cfg.LogHint,
			tokenHint: cfg.TokenHint,
		},
		token: cfg.Token,
		http:  cfg.HTTPClient,
		idle:  cfg.IdleTimeout,
	}
	if c.srv.label == "" {
		c.srv.label = "the model server"
	}
	if c.srv.startCmd == "" {
		c.srv.startCmd = "start it and check the address"
	}
	if c.srv.logHint == "" {
		c.srv.logHint = "the server log"
	}
	if c.srv.tokenHint == "" {
		c.srv.tokenHint = "check the API token"
	}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.idle <= 0 {
		c.idle = DefaultIdleTimeout
	}
	return c
}

// newRequest builds a request to path with the token and a JSON body.
func (c *Compat) newRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var buf *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		buf = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if buf != nil {
		req, err = http.NewRequestWithContext(ctx, method, c.srv.endpoint+path, buf)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, c.srv.endpoint+path, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends a JSON request and decodes a JSON answer into out (when non-nil).
func (c *Compat) do(ctx context.Context, op, method, path string, in, out any, notFound func(string) error) error {
	req, err := c.newRequest(ctx, method, path, in)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.srv.transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.srv.statusError(resp, op, notFound)
	}
	if out == nil {
		return nil
	}
	return c.srv.readJSON(ctx, resp, op, out)
}

// ModelIDs returns the names /v1/models lists.
func (c *Compat) ModelIDs(ctx context.Context) ([]string, error) {
	var out struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := c.do(ctx, "list models", http.MethodGet, "/v1/models", nil, &out, nil); err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Data))
	for i, m := range out.Data {
		ids[i] = m.ID
	}
	return ids, nil
}

// modelNotFound builds the error for an unknown model, listing what /v1/models
// offers (or nothing, if that fails too).
func (c *Compat) modelNotFound(ctx context.Context, model string) func(string) error {
	return func(string) error {
		ids, _ := c.ModelIDs(ctx)
		return &llm.ModelNotFoundError{Backend: c.srv.label + " at " + c.srv.endpoint, Model: model, Available: ids}
	}
}

// Embed returns one vector per input through /v1/embeddings.
func (c *Compat) Embed(ctx context.Context, model string, inputs []string) ([][]float32, error) {
	in := struct {
		Model          string   `json:"model"`
		Input          []string `json:"input"`
		EncodingFormat string   `json:"encoding_format"`
	}{model, inputs, "float"}
	var out struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
			Index     int       `json:"index"`
		} `json:"data"`
	}
	if err := c.do(ctx, "embed with "+model, http.MethodPost, "/v1/embeddings", in, &out, c.modelNotFound(ctx, model)); err != nil {
		return nil, err
	}
	if len(out.Data) != len(inputs) {
		return nil, &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s returned %d embeddings for %d inputs", c.srv.label, c.srv.endpoint, len(out.Data), len(inputs))}
	}
	sort.SliceStable(out.Data, func(i, j int) bool { return out.Data[i].Index < out.Data[j].Index })
	vecs := make([][]float32, len(out.Data))
	for i, d := range out.Data {
		if d.Index != i {
			return nil, &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
				"%s at %s returned embeddings with indexes that do not match the inputs", c.srv.label, c.srv.endpoint)}
		}
		vecs[i] = d.Embedding
	}
	return vecs, nil
}

// The request body of /v1/chat/completions.
type (
	chatRequest struct {
		Model         string        `json:"model"`
		Messages      []chatMessage `json:"messages"`
		Tools         []chatTool    `json:"tools,omitempty"`
		Stream        bool          `json:"stream"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		MaxTokens   int      `json:"max_tokens,omitempty"`
		Temperature *float64 `json:"temperature,omitempty"`
		TopP        *float64 `json:"top_p,omitempty"`
		TopK        int      `json:"top_k,omitempty"`
		Seed        *int64   `json:"seed,omitempty"`
		Stop        []string `json:"stop,omitempty"`
		// TTL is LM Studio's idle time-to-live in seconds for a JIT-loaded
		// model; other servers ignore the unknown field.
		TTL int64 `json:"ttl,omitempty"`
		// ResponseFormat constrains the answer to a JSON Schema.
		ResponseFormat *responseFormat `json:"response_format,omitempty"`
	}
	responseFormat struct {
		Type       string `json:"type"` // "json_schema"
		JSONSchema struct {
			Name   string          `json:"name"`
			Strict bool            `json:"strict"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	chatMessage struct {
		Role string `json:"role"`
		// Content is the text, or, with images, a list of contentParts.
		Content    any            `json:"content"`
		ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
		ToolCallID string         `json:"tool_call_id,omitempty"`
	}
	// contentPart is one part of a message with images: OpenAI's
	// {"type": "text", "text": …} or {"type": "image_url", "image_url":
	// {"url": "data:image/png;base64,…"}}.
	contentPart struct {
		Type     string    `json:"type"`
		Text     string    `json:"text,omitempty"`
		ImageURL *imageURL `json:"image_url,omitempty"`
	}
	imageURL struct {
		URL string `json:"url"`
	}
	chatToolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"` // JSON text inside a string, as OpenAI specifies
		} `json:"function"`
	}
	chatTool struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Parameters  json.RawMessage `json:"parameters,omitempty"`
		} `json:"function"`
	}
)

func encodeChat(req llm.Request) chatRequest {
	out := chatRequest{
		Model:       req.Model,
		Messages:    make([]chatMessage, len(req.Messages)),
		Stream:      true,
		MaxTokens:   req.Options.MaxTokens,
		Temperature: req.Options.Temperature,
		TopP:        req.Options.TopP,
		TopK:        req.Options.TopK,
		Seed:        req.Options.Seed,
		Stop:        req.Options.Stop,
	}
	out.StreamOptions.IncludeUsage = true
	if len(req.Format) > 0 {
		out.ResponseFormat = &responseFormat{Type: "json_schema"}
		out.ResponseFormat.JSONSchema.Name, out.ResponseFormat.JSONSchema.Strict = "answer", true
		out.ResponseFormat.JSONSchema.Schema = req.Format
	}
	if req.KeepAlive > 0 {
		out.TTL = int64(math.Ceil(req.KeepAlive.Seconds()))
	}
	for i, m := range req.Messages {
		cm := chatMessage{Role: string(m.Role), Content: content(m), ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			var c chatToolCall
			c.ID, c.Type = tc.ID, "function"
			c.Function.Name, c.Function.Arguments = tc.Name, string(tc.Arguments)
			if c.Function.Arguments == "" {
				c.Function.Arguments = "{}"
			}
			cm.ToolCalls = append(cm.ToolCalls, c)
		}
		out.Messages[i] = cm
	}
	for _, t := range req.Tools {
		var ct chatTool
		ct.Type = "function"
		ct.Function.Name, ct.Function.Description, ct.Function.Parameters = t.Name, t.Description, t.Parameters
		out.Tools = append(out.Tools, ct)
	}
	return out
}

// content is a message's content: its text, or its text and images as
// content parts.
func content(m llm.Message) any {
	if len(m.Images) == 0 {
		return m.Content
	}
	parts := []contentPart{{Type: "text", Text: m.Content}}
	for _, im := range m.Images {
		parts = append(parts, contentPart{Type: "image_url", ImageURL: &imageURL{URL: im.DataURI()}})
	}
	return parts
}

// Chat streams a completion from /v1/chat/completions. The request carries
// the whole conversation and the tools; Options.ContextLength cannot be set
// per request on this API and is ignored here (load the model with it).
func (c *Compat) Chat(ctx context.Context, req llm.Request) (llm.Stream, error) {
	start := time.Now()
	sctx, cancel := context.WithCancelCause(ctx)
	hreq, err := c.newRequest(sctx, http.MethodPost, "/v1/chat/completions", encodeChat(req))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	hreq.Header.Set("Accept", "text/event-stream")
	// The stall timer runs from the start: a server that accepts the
	// connection and never answers is as stuck as one that stops mid-answer.
	timer := time.AfterFunc(c.idle, func() { cancel(errStalled) })
	resp, err := c.http.Do(hreq)
	if err != nil {
		timer.Stop()
		cancel(nil)
		if context.Cause(sctx) == errStalled {
			return nil, c.srv.stalled(c.idle)
		}
		return nil, c.srv.transportError(ctx, "chat", err)
	}
	if !timer.Stop() {
		// The timer fired just as the answer arrived; the request is cancelled.
		resp.Body.Close()
		return nil, c.srv.stalled(c.idle)
	}
	if resp.StatusCode/100 != 2 {
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, c.srv.statusError(resp, "chat with "+req.Model, c.modelNotFound(ctx, req.Model))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, c.notStreamed(ctx, resp, ct)
	}
	return newChatStream(ctx, sctx, cancel, &c.srv, resp.Body, c.idle, start, req.Model), nil
}

// notStreamed explains a 2xx chat answer that is not an event stream.
func (c *Compat) notStreamed(ctx context.Context, resp *http.Response, contentType string) error {
	var body struct {
		Error *apiError `json:"error"`
	}
	if err := c.srv.readJSON(ctx, resp, "chat", &body); err != nil {
		return err
	}
	if body.Error != nil {
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s could not answer; its log (%s) says why", c.srv.label, c.srv.endpoint, c.srv.logHint),
			Cause: errorText(body.Error.Message)}
	}
	return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
		"%s at %s answered without streaming (Content-Type %q); check that the address points to %s",
		c.srv.label, c.srv.endpoint, contentType, c.srv.label)}
}
