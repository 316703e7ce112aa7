package lmstudiotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The streamed chunk of /v1/chat/completions, as OpenAI defines it.
type (
	chunk struct {
		ID                string   `json:"id"`
		Object            string   `json:"object"`
		Created           int64    `json:"created"`
		Model             string   `json:"model"`
		SystemFingerprint string   `json:"system_fingerprint"`
		Choices           []choice `json:"choices"`
		Usage             *usage   `json:"usage,omitempty"`
	}
	choice struct {
		Index        int     `json:"index"`
		Delta        delta   `json:"delta"`
		Logprobs     any     `json:"logprobs"`
		FinishReason *string `json:"finish_reason"`
	}
	delta struct {
		Role      string          `json:"role,omitempty"`
		Content   string          `json:"content,omitempty"`
		Reasoning string          `json:"reasoning_content,omitempty"`
		ToolCalls []deltaToolCall `json:"tool_calls,omitempty"`
	}
	deltaToolCall struct {
		Index    int    `json:"index"`
		ID       string `json:"id,omitempty"`
		Type     string `json:"type,omitempty"`
		Function struct {
			Name      string `json:"name,omitempty"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
)

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "Invalid JSON body: "+err.Error(), "")
		return
	}
	if req.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", `"model" is required`, "")
		return
	}
	images := req.hasImages()
	s.mu.Lock()
	s.requests = append(s.requests, req)
	reply := echo(req)
	if len(s.script) > 0 {
		reply = s.script[0]
		s.script = s.script[1:]
	}
	s.nextID++
	id := fmt.Sprintf("chatcmpl-%d", s.nextID)
	chunkDelay := s.chunkDelay
	s.mu.Unlock()

	if reply.Status > 0 {
		writeError(w, reply.Status, "server_error", reply.Error, "")
		return
	}
	m, ok, msg := s.jitLoad(r, req.Model, req.TTL, "llm")
	if !ok {
		if r.Context().Err() != nil {
			s.countCancel()
			return
		}
		status := http.StatusBadRequest
		if m == nil {
			status = http.StatusNotFound
		}
		writeError(w, status, "invalid_request_error", msg, notFoundCode(m))
		return
	}
	if images && !m.Vision {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "Model does not support images. Please use a model that does.", "")
		return
	}
	if !req.Stream {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "lmstudiotest only streams; send \"stream\": true", "")
		return
	}
	if !sleep(r, reply.Delay) {
		s.countCancel()
		return
	}
	st := &sseWriter{w: w, r: r, base: chunk{ID: id, Object: "chat.completion.chunk", Created: time.Now().Unix(), Model: m.Key, SystemFingerprint: m.Key}, delay: chunkDelay, comments: reply.Comments}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	if !s.stream(st, req, reply) {
		s.countCancel()
	}
}

func (s *Server) countCancel() {
	s.mu.Lock()
	s.cancelled++
	s.mu.Unlock()
}

// stream writes the reply; it reports false when the client went away.
func (s *Server) stream(st *sseWriter, req ChatRequest, reply Reply) bool {
	chunks := reply.Chunks
	finish := reply.FinishReason
	if req.MaxTokens > 0 && len(chunks) > req.MaxTokens {
		chunks, finish = chunks[:req.MaxTokens], "length"
	}
	sent := 0
	cut := func() bool { return reply.CutAfter > 0 && sent >= reply.CutAfter }
	for i, text := range reply.Reasoning {
		d := delta{Reasoning: text}
		if i == 0 {
			d.Role = "assistant"
		}
		if !st.send(choice{Delta: d}) {
			return false
		}
	}
	for i, text := range chunks {
		d := delta{Content: text}
		if i == 0 && len(reply.Reasoning) == 0 {
			d.Role = "assistant"
		}
		if !st.send(choice{Delta: d}) {
			return false
		}
		sent++
		if cut() {
			return st.cut(reply.Abort)
		}
	}
	for i, tc := range reply.ToolCalls {
		for j, piece := range splitArgs(tc.Arguments) {
			var dt deltaToolCall
			dt.Index = i
			if j == 0 {
				dt.ID, dt.Type, dt.Function.Name = tc.ID, "function", tc.Name
			}
			dt.Function.Arguments = piece
			if !st.send(choice{Delta: delta{ToolCalls: []deltaToolCall{dt}}}) {
				return false
			}
			sent++
			if cut() {
				return st.cut(reply.Abort)
			}
		}
	}
	if reply.StreamError != "" {
		return st.raw(map[string]any{"error": map[string]string{"type": "server_error", "message": reply.StreamError}})
	}
	if finish == "" {
		finish = "stop"
		if len(reply.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	if !st.send(choice{FinishReason: &finish}) {
		return false
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		u := &usage{PromptTokens: promptTokens(req), CompletionTokens: sent}
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		c := st.base
		c.Choices, c.Usage = []choice{}, u
		if !st.raw(c) {
			return false
		}
	}
	return st.line("data: [DONE]\n\n")
}

// promptTokens counts words as tokens, which is enough for tests of usage.
func promptTokens(req ChatRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += len(strings.Fields(m.Content))
	}
	return n
}

// splitArgs cuts a tool call's arguments into three pieces, as a server
// streaming them token by token would.
func splitArgs(args string) []string {
	if len(args) < 3 {
		return []string{args}
	}
	a, b := len(args)/3, 2*len(args)/3
	return []string{"", args[:a], args[a:b], args[b:]}
}

// sseWriter writes chunks as server-sent events, flushing each.
type sseWriter struct {
	w        http.ResponseWriter
	r        *http.Request
	base     chunk
	delay    time.Duration
	comments bool
}

func (st *sseWriter) send(c choice) bool {
	if !sleep(st.r, st.delay) {
		return false
	}
	if st.comments && !st.line(": keep-alive\n\n") {
		return false
	}
	ch := st.base
	ch.Choices = []choice{c}
	return st.raw(ch)
}

func (st *sseWriter) raw(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return st.line("data: " + string(b) + "\n\n")
}

func (st *sseWriter) line(s string) bool {
	if st.r.Context().Err() != nil {
		return false
	}
	if _, err := fmt.Fprint(st.w, s); err != nil {
		return false
	}
	st.w.(http.Flusher).Flush()
	return true
}

// cut ends the stream early: cleanly, or by breaking the connection.
func (st *sseWriter) cut(abort bool) bool {
	if abort {
		panic(http.ErrAbortHandler)
	}
	return true
}
