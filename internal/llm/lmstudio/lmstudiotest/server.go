// Package lmstudiotest runs a fake LM Studio server on a loopback port for
// tests, in the manner of net/http/httptest. It speaks the wire format of
// LM Studio's documentation: the native REST API (/api/v1/models, load,
// unload; /api/v0/models) and the OpenAI-compatible chat, embeddings and
// model listing (/v1/...). Loading creates a new instance on every call and
// chatting with a model that is not loaded loads it just in time, as real
// LM Studio does. Knobs script replies, cut streams, add delays, require an
// API token and count loads, so that any package can test against it.
package lmstudiotest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Model is an installed model, with the fields GET /api/v1/models reports.
type Model struct {
	Key              string // e.g. "qwen/qwen3-8b"
	Type             string // "llm" (when empty) or "embedding"
	Publisher        string
	DisplayName      string
	Architecture     string
	Quantization     string // e.g. "Q4_K_M"
	BitsPerWeight    float64
	SizeBytes        int64
	ParamsString     string // e.g. "8B"
	MaxContextLength int    // 4096 when zero
	Vision, ToolUse  bool
}

// Reply is a scripted answer to one chat request.
type Reply struct {
	Chunks []string // text pieces, one streamed event each
	// Reasoning is thinking streamed before the text as reasoning_content
	// deltas, one event each, as LM Studio does for reasoning models.
	Reasoning    []string
	ToolCalls    []ToolCall // streamed after the text, arguments in several pieces
	FinishReason string     // "stop", or "tool_calls" when ToolCalls is set, when empty
	Delay        time.Duration
	// Comments sends an SSE comment (a keep-alive) before every chunk.
	Comments bool
	// CutAfter > 0 ends the response after that many chunks without a
	// finish_reason or [DONE], as a crashed model would.
	CutAfter int
	// Abort, with CutAfter, breaks the connection instead of ending the
	// response cleanly.
	Abort bool
	// StreamError sends an error event after the chunks instead of finishing.
	StreamError string
	// Status > 0 answers with that HTTP status and Error as the message
	// instead of streaming.
	Status int
	Error  string
}

// ToolCall is a scripted tool call.
type ToolCall struct {
	ID, Name, Arguments string
}

// Instance is a loaded model instance.
type Instance struct {
	ID            string
	Model         string
	ContextLength int
	TTL           int // seconds, for JIT-loaded instances that were given one
}

// ChatRequest is a chat request as the server received it.
type ChatRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Tools    []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens   int      `json:"max_tokens"`
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	TopK        int      `json:"top_k"`
	Seed        *int64   `json:"seed"`
	Stop        []string `json:"stop"`
	TTL         int      `json:"ttl"`
}

// ChatMessage is one message of a ChatRequest. Content is the text (of
// all text parts, when the content came as a list of parts); Images are
// the images of its image_url parts, decoded from their data URIs.
type ChatMessage struct {
	Role      string  `json:"role"`
	Content   string  `json:"content"`
	Images    []Image `json:"-"`
	ToolCalls []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
	ToolCallID string `json:"tool_call_id"`
}

// Server is a fake LM Studio. Its methods are safe for concurrent use.
type Server struct {
	URL string // base URL, e.g. "http://127.0.0.1:41234"

	srv *httptest.Server

	mu         sync.Mutex
	models     []Model
	instances  []Instance
	script     []Reply
	token      string
	v0         bool
	chunkDelay time.Duration
	loadDelay  time.Duration
	fail       []failure
	loads      int
	unloads    int
	cancelled  int
	requests   []ChatRequest
	nextID     int
}

type failure struct {
	status      int
	contentType string
	body        string
}

// New starts a server listing models and stops it when the test ends.
func New(t testing.TB, models ...Model) *Server {
	t.Helper()
	s := &Server{models: models}
	for i := range s.models {
		if s.models[i].Type == "" {
			s.models[i].Type = "llm"
		}
		if s.models[i].MaxContextLength == 0 {
			s.models[i].MaxContextLength = 4096
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/models", s.v1Only(s.handleList))
	mux.HandleFunc("POST /api/v1/models/load", s.v1Only(s.handleLoad))
	mux.HandleFunc("POST /api/v1/models/unload", s.v1Only(s.handleUnload))
	mux.HandleFunc("GET /api/v0/models", s.handleListV0)
	mux.HandleFunc("GET /v1/models", s.handleListOpenAI)
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("POST /v1/embeddings", s.handleEmbeddings)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { unexpected(w, r) })
	s.srv = httptest.NewServer(s.guard(mux))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, breaking open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Script queues replies for the next chat requests, in order. Without a
// scripted reply the server echoes the last user message word by word.
func (s *Server) Script(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
}

// RequireToken makes every request need "Authorization: Bearer token"; ""
// turns authentication off.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetV0 makes the server behave as LM Studio before 0.4.0: /api/v1 does not
// exist and /api/v0/models is the only listing.
func (s *Server) SetV0(v0 bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v0 = v0
}

// SetChunkDelay waits d before every streamed chunk.
func (s *Server) SetChunkDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunkDelay = d
}

// SetLoadDelay makes every load, explicit or just in time, take d.
func (s *Server) SetLoadDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadDelay = d
}

// FailNext answers the next request, whatever its path, with status,
// contentType and body.
func (s *Server) FailNext(status int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{status, contentType, body})
}

// Loads returns how many instances were created, explicitly or just in time.
func (s *Server) Loads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

// Unloads returns how many instances were unloaded.
func (s *Server) Unloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unloads
}

// Cancelled returns how many streams the client abandoned before their end.
func (s *Server) Cancelled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// Instances returns the loaded instances.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Instance(nil), s.instances...)
}

// ChatRequests returns the chat requests received so far.
func (s *Server) ChatRequests() []ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ChatRequest(nil), s.requests...)
}

// Preload loads a new instance of key as if the owner had loaded it in the
// app, and returns its id.
func (s *Server) Preload(key string, contextLength int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.model(key)
	if m == nil {
		panic("lmstudiotest: Preload of unknown model " + key)
	}
	return s.addInstance(m, contextLength, 0).ID
}

// guard applies the token requirement and queued failures to every request.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		token := s.token
		var f *failure
		if len(s.fail) > 0 {
			f = &s.fail[0]
			s.fail = s.fail[1:]
		}
		s.mu.Unlock()
		if f != nil {
			w.Header().Set("Content-Type", f.contentType)
			w.WriteHeader(f.status)
			fmt.Fprint(w, f.body)
			return
		}
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			writeError(w, http.StatusUnauthorized, "invalid_request", "Invalid or missing API token", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// v1Only answers as an older server without /api/v1 when SetV0 is on.
func (s *Server) v1Only(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v0 := s.v0
		s.mu.Unlock()
		if v0 {
			unexpected(w, r)
			return
		}
		h(w, r)
	}
}

// unexpected is LM Studio's answer to an unknown endpoint.
func unexpected(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{
		"error": fmt.Sprintf("Unexpected endpoint or method. (%s %s)", r.Method, r.URL.Path),
	})
}

// writeError writes the documented error body {"error": {type, message, code?, param?}}.
func writeError(w http.ResponseWriter, status int, typ, msg, code string) {
	e := map[string]string{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) model(key string) *Model {
	for i := range s.models {
		if s.models[i].Key == key {
			return &s.models[i]
		}
	}
	return nil
}

// instanceOf returns the first instance matching an instance id or a model key.
func (s *Server) instanceOf(name string) *Instance {
	for i := range s.instances {
		if s.instances[i].ID == name {
			return &s.instances[i]
		}
	}
	for i := range s.instances {
		if s.instances[i].Model == name {
			return &s.instances[i]
		}
	}
	return nil
}

// addInstance creates a new instance: the first of a model is named by its
// key, later ones "key:2", "key:3", as LM Studio names them.
func (s *Server) addInstance(m *Model, contextLength, ttl int) Instance {
	n := 1
	for _, in := range s.instances {
		if in.Model == m.Key {
			n++
		}
	}
	id := m.Key
	if n > 1 {
		id = fmt.Sprintf("%s:%d", m.Key, n)
	}
	if contextLength <= 0 || contextLength > m.MaxContextLength {
		contextLength = min(4096, m.MaxContextLength)
	}
	in := Instance{ID: id, Model: m.Key, ContextLength: contextLength, TTL: ttl}
	s.instances = append(s.instances, in)
	s.loads++
	return in
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type config struct {
		ContextLength       int   `json:"context_length"`
		EvalBatchSize       int   `json:"eval_batch_size,omitempty"`
		Parallel            int   `json:"parallel,omitempty"`
		FlashAttention      *bool `json:"flash_attention,omitempty"`
		OffloadKVCacheToGPU *bool `json:"offload_kv_cache_to_gpu,omitempty"`
	}
	type instance struct {
		ID     string `json:"id"`
		Config config `json:"config"`
	}
	yes := true
	models := make([]map[string]any, 0, len(s.models))
	for _, m := range s.models {
		loaded := []instance{}
		for _, in := range s.instances {
			if in.Model != m.Key {
				continue
			}
			c := config{ContextLength: in.ContextLength}
			if m.Type == "llm" {
				c.EvalBatchSize, c.Parallel, c.FlashAttention, c.OffloadKVCacheToGPU = 512, 4, &yes, &yes
			}
			loaded = append(loaded, instance{ID: in.ID, Config: c})
		}
		entry := map[string]any{
			"type":               m.Type,
			"publisher":          m.Publisher,
			"key":                m.Key,
			"display_name":       m.DisplayName,
			"quantization":       map[string]any{"name": nullable(m.Quantization), "bits_per_weight": nullableF(m.BitsPerWeight)},
			"size_bytes":         m.SizeBytes,
			"params_string":      nullable(m.ParamsString),
			"loaded_instances":   loaded,
			"max_context_length": m.MaxContextLength,
			"format":             "gguf",
		}
		if m.Type == "llm" {
			entry["architecture"] = m.Architecture
			entry["capabilities"] = map[string]any{"vision": m.Vision, "trained_for_tool_use": m.ToolUse}
			entry["description"] = nil
		}
		models = append(models, entry)
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": models})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableF(f float64) any {
	if f == 0 {
		return nil
	}
	return f
}

func (s *Server) handleListV0(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := make([]map[string]any, 0, len(s.models))
	for _, m := range s.models {
		typ := m.Type
		switch {
		case typ == "embedding":
			typ = "embeddings"
		case m.Vision:
			typ = "vlm"
		}
		state := "not-loaded"
		if s.instanceOf(m.Key) != nil {
			state = "loaded"
		}
		entry := map[string]any{
			"id": m.Key, "object": "model", "type": typ, "publisher": m.Publisher, "arch": m.Architecture,
			"compatibility_type": "gguf", "quantization": m.Quantization, "state": state,
			"max_context_length": m.MaxContextLength,
		}
		if m.ToolUse {
			entry["capabilities"] = []string{"tool_use"}
		}
		data = append(data, entry)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) handleListOpenAI(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := make([]map[string]any, 0, len(s.models))
	for _, m := range s.models {
		data = append(data, map[string]any{"id": m.Key, "object": "model", "owned_by": m.Publisher})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (s *Server) handleLoad(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model          string `json:"model"`
		ContextLength  int    `json:"context_length"`
		EchoLoadConfig bool   `json:"echo_load_config"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", `"model" is required`, "missing_required_parameter")
		return
	}
	s.mu.Lock()
	m := s.model(in.Model)
	delay := s.loadDelay
	s.mu.Unlock()
	if m == nil {
		writeError(w, http.StatusNotFound, "model_not_found", fmt.Sprintf("Model %q not found", in.Model), "")
		return
	}
	if !sleep(r, delay) {
		return
	}
	s.mu.Lock()
	inst := s.addInstance(m, in.ContextLength, 0)
	typ := m.Type
	s.mu.Unlock()
	out := map[string]any{
		"type": typ, "instance_id": inst.ID, "load_time_seconds": delay.Seconds(), "status": "loaded",
	}
	if in.EchoLoadConfig {
		out["load_config"] = map[string]any{"context_length": inst.ContextLength}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleUnload(w http.ResponseWriter, r *http.Request) {
	var in struct {
		InstanceID string `json:"instance_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.InstanceID == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", `"instance_id" is required`, "missing_required_parameter")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, inst := range s.instances {
		if inst.ID == in.InstanceID {
			s.instances = append(s.instances[:i], s.instances[i+1:]...)
			s.unloads++
			writeJSON(w, http.StatusOK, map[string]string{"instance_id": inst.ID})
			return
		}
	}
	writeError(w, http.StatusNotFound, "invalid_request", fmt.Sprintf("No loaded model instance with id %q", in.InstanceID), "")
}

// jitLoad returns the instance serving name, loading one when there is none.
func (s *Server) jitLoad(r *http.Request, name string, ttl int, wantType string) (*Model, bool, string) {
	s.mu.Lock()
	inst := s.instanceOf(name)
	var m *Model
	if inst != nil {
		m = s.model(inst.Model)
	} else {
		m = s.model(name)
	}
	delay := s.loadDelay
	s.mu.Unlock()
	if m == nil {
		return nil, false, fmt.Sprintf("Model %q not found. Check the model key with GET /v1/models.", name)
	}
	if m.Type != wantType {
		return m, false, fmt.Sprintf("Model %q is a %s model and cannot be used here", name, m.Type)
	}
	if inst == nil {
		if !sleep(r, delay) {
			return m, false, "cancelled"
		}
		s.mu.Lock()
		if s.instanceOf(name) == nil {
			s.addInstance(m, 0, ttl)
		}
		s.mu.Unlock()
	}
	return m, true, ""
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", `"model" is required`, "")
		return
	}
	var inputs []string
	if err := json.Unmarshal(in.Input, &inputs); err != nil {
		var one string
		if err := json.Unmarshal(in.Input, &one); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", `"input" must be a string or an array of strings`, "")
			return
		}
		inputs = []string{one}
	}
	m, ok, msg := s.jitLoad(r, in.Model, 0, "embedding")
	if !ok {
		status := http.StatusBadRequest
		if m == nil {
			status = http.StatusNotFound
		}
		writeError(w, status, "invalid_request_error", msg, notFoundCode(m))
		return
	}
	data := make([]map[string]any, len(inputs))
	for i, text := range inputs {
		data[i] = map[string]any{"object": "embedding", "embedding": Vector(text), "index": i}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": m.Key,
		"usage": map[string]int{"prompt_tokens": 0, "total_tokens": 0},
	})
}

func notFoundCode(m *Model) string {
	if m == nil {
		return "model_not_found"
	}
	return ""
}

// Vector is the embedding the server returns for text: 8 dimensions derived
// from a hash of it, of unit length.
func Vector(text string) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	seed := h.Sum64()
	v := make([]float32, 8)
	var norm float64
	for i := range v {
		seed = seed*6364136223846793005 + 1442695040888963407
		x := float64(int64(seed>>11))/float64(1<<52) - 1
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

// sleep waits d or until the client goes away, and reports whether to go on.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// echo is the default reply: the last user message, word by word.
func echo(req ChatRequest) Reply {
	last := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			last = m.Content
		}
	}
	words := strings.SplitAfter("You said: "+last, " ")
	return Reply{Chunks: words}
}
