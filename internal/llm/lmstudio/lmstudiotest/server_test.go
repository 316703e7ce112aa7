package lmstudiotest_test

import (
	"bufio"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// These tests read the server's raw answers and hold them to the fields of
// LM Studio's documentation, independently of our client.

func do(t *testing.T, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return m
}

func keys(m any) []string {
	return slices.Sorted(maps.Keys(m.(map[string]any)))
}

func newServer(t *testing.T) *lmstudiotest.Server {
	return lmstudiotest.New(t,
		lmstudiotest.Model{Key: "qwen/qwen3-8b", Publisher: "qwen", DisplayName: "Qwen3 8B", Architecture: "qwen3", Quantization: "Q4_K_M", BitsPerWeight: 4, SizeBytes: 5e9, ParamsString: "8B", MaxContextLength: 32768, ToolUse: true},
		lmstudiotest.Model{Key: "text-embedding-nomic-embed-text-v1.5", Type: "embedding", Publisher: "nomic-ai", Quantization: "F16", SizeBytes: 274290560, MaxContextLength: 2048},
	)
}

func TestListV1(t *testing.T) {
	srv := newServer(t)
	srv.Preload("qwen/qwen3-8b", 8192)
	status, body := do(t, "GET", srv.URL+"/api/v1/models", "")
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	models := decode(t, body)["models"].([]any)
	llm, emb := models[0].(map[string]any), models[1].(map[string]any)
	wantLLM := []string{"architecture", "capabilities", "description", "display_name", "format", "key", "loaded_instances", "max_context_length", "params_string", "publisher", "quantization", "size_bytes", "type"}
	if got := keys(llm); !slices.Equal(got, wantLLM) {
		t.Errorf("llm fields = %v, want %v", got, wantLLM)
	}
	wantEmb := []string{"display_name", "format", "key", "loaded_instances", "max_context_length", "params_string", "publisher", "quantization", "size_bytes", "type"}
	if got := keys(emb); !slices.Equal(got, wantEmb) {
		t.Errorf("embedding fields = %v, want %v (no architecture, capabilities or description)", got, wantEmb)
	}
	if got := keys(llm["quantization"]); !slices.Equal(got, []string{"bits_per_weight", "name"}) {
		t.Errorf("quantization fields = %v", got)
	}
	if got := keys(llm["capabilities"]); !slices.Equal(got, []string{"trained_for_tool_use", "vision"}) {
		t.Errorf("capabilities fields = %v", got)
	}
	inst := llm["loaded_instances"].([]any)[0].(map[string]any)
	if inst["id"] != "qwen/qwen3-8b" || inst["config"].(map[string]any)["context_length"] != 8192.0 {
		t.Errorf("instance = %v", inst)
	}
	if emb["params_string"] != nil || emb["type"] != "embedding" || llm["format"] != "gguf" {
		t.Errorf("values: %v / %v", emb, llm)
	}
}

func TestLoadUnload(t *testing.T) {
	srv := newServer(t)
	var ids []string
	for range 2 {
		status, body := do(t, "POST", srv.URL+"/api/v1/models/load", `{"model":"qwen/qwen3-8b","context_length":16384,"echo_load_config":true}`)
		m := decode(t, body)
		if status != 200 || m["type"] != "llm" || m["status"] != "loaded" || m["load_config"].(map[string]any)["context_length"] != 16384.0 {
			t.Fatalf("load: %d %v", status, m)
		}
		if got := keys(m); !slices.Equal(got, []string{"instance_id", "load_config", "load_time_seconds", "status", "type"}) {
			t.Errorf("load fields = %v", got)
		}
		ids = append(ids, m["instance_id"].(string))
	}
	// As real LM Studio does, a second load makes a second instance.
	if !slices.Equal(ids, []string{"qwen/qwen3-8b", "qwen/qwen3-8b:2"}) || srv.Loads() != 2 {
		t.Errorf("instance ids = %v, loads %d", ids, srv.Loads())
	}
	status, body := do(t, "POST", srv.URL+"/api/v1/models/unload", `{"instance_id":"qwen/qwen3-8b:2"}`)
	if m := decode(t, body); status != 200 || m["instance_id"] != "qwen/qwen3-8b:2" || len(m) != 1 {
		t.Errorf("unload: %d %v", status, m)
	}
	status, body = do(t, "POST", srv.URL+"/api/v1/models/unload", `{"instance_id":"nope"}`)
	if status != 404 || decode(t, body)["error"] == nil {
		t.Errorf("unload of nothing: %d %s", status, body)
	}
	status, body = do(t, "POST", srv.URL+"/api/v1/models/load", `{"model":"nope"}`)
	if e := decode(t, body)["error"].(map[string]any); status != 404 || e["type"] != "model_not_found" || e["message"] == "" {
		t.Errorf("load of unknown: %d %s", status, body)
	}
}

func TestListV0AndOpenAI(t *testing.T) {
	srv := newServer(t)
	srv.SetV0(true)
	srv.Preload("qwen/qwen3-8b", 0)
	if status, body := do(t, "GET", srv.URL+"/api/v1/models", ""); status != 404 || !strings.Contains(string(body), "Unexpected endpoint") {
		t.Errorf("v1 on an old server: %d %s", status, body)
	}
	_, body := do(t, "GET", srv.URL+"/api/v0/models", "")
	m := decode(t, body)
	data := m["data"].([]any)
	first := data[0].(map[string]any)
	want := []string{"arch", "capabilities", "compatibility_type", "id", "max_context_length", "object", "publisher", "quantization", "state", "type"}
	if got := keys(first); m["object"] != "list" || !slices.Equal(got, want) {
		t.Errorf("v0 fields = %v, want %v", got, want)
	}
	if first["state"] != "loaded" || data[1].(map[string]any)["state"] != "not-loaded" || data[1].(map[string]any)["type"] != "embeddings" {
		t.Errorf("v0 states and types: %v", data)
	}
	_, body = do(t, "GET", srv.URL+"/v1/models", "")
	if ids := decode(t, body)["data"].([]any); len(ids) != 2 || ids[0].(map[string]any)["id"] != "qwen/qwen3-8b" {
		t.Errorf("/v1/models = %s", body)
	}
}

func TestChatWireFormat(t *testing.T) {
	srv := newServer(t)
	srv.Script(lmstudiotest.Reply{Chunks: []string{"Hi", "!"}, ToolCalls: []lmstudiotest.ToolCall{{ID: "7", Name: "f", Arguments: `{"a":1}`}}})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"qwen/qwen3-8b","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"ttl":60}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var chunks []map[string]any
	sc := bufio.NewScanner(resp.Body)
	var last string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not an SSE data line", line)
		}
		last = data
		if data != "[DONE]" {
			chunks = append(chunks, decode(t, []byte(data)))
		}
	}
	if last != "[DONE]" {
		t.Fatalf("stream ended with %q", last)
	}
	// 2 text chunks, 4 tool call pieces, the finish chunk, the usage chunk.
	if len(chunks) != 8 {
		t.Fatalf("%d chunks: %v", len(chunks), chunks)
	}
	for _, c := range chunks {
		if c["object"] != "chat.completion.chunk" || c["model"] != "qwen/qwen3-8b" || c["id"] == "" {
			t.Errorf("chunk header: %v", c)
		}
	}
	delta := func(i int) map[string]any {
		return chunks[i]["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	}
	if d := delta(0); d["role"] != "assistant" || d["content"] != "Hi" {
		t.Errorf("first delta = %v", d)
	}
	first := delta(2)["tool_calls"].([]any)[0].(map[string]any)
	if first["id"] != "7" || first["type"] != "function" || first["function"].(map[string]any)["name"] != "f" || first["function"].(map[string]any)["arguments"] != "" {
		t.Errorf("first tool call piece = %v", first)
	}
	var args string
	for i := 2; i < 6; i++ {
		args += delta(i)["tool_calls"].([]any)[0].(map[string]any)["function"].(map[string]any)["arguments"].(string)
	}
	if args != `{"a":1}` {
		t.Errorf("arguments reassembled = %q", args)
	}
	if fr := chunks[6]["choices"].([]any)[0].(map[string]any)["finish_reason"]; fr != "tool_calls" {
		t.Errorf("finish_reason = %v", fr)
	}
	if u := chunks[7]["usage"].(map[string]any); u["completion_tokens"] != 6.0 || len(chunks[7]["choices"].([]any)) != 0 {
		t.Errorf("usage chunk = %v", chunks[7])
	}
	if in := srv.Instances(); len(in) != 1 || in[0].TTL != 60 {
		t.Errorf("JIT instance = %+v", in)
	}
}

func TestTokenAndUnknownEndpoint(t *testing.T) {
	srv := newServer(t)
	srv.RequireToken("s3cret")
	if status, body := do(t, "GET", srv.URL+"/api/v1/models", ""); status != 401 || decode(t, body)["error"] == nil {
		t.Errorf("without a token: %d %s", status, body)
	}
	if status, _ := do(t, "GET", srv.URL+"/api/v1/models", "", "Authorization", "Bearer s3cret"); status != 200 {
		t.Errorf("with the token: %d", status)
	}
	if status, body := do(t, "GET", srv.URL+"/api/v2/x", "", "Authorization", "Bearer s3cret"); status != 404 || !strings.Contains(string(body), "Unexpected endpoint or method. (GET /api/v2/x)") {
		t.Errorf("unknown endpoint: %d %s", status, body)
	}
}

// An image comes as an OpenAI content part with a base64 data URI: a
// vision model's request records the decoded bytes; a text-only model
// refuses it.
func TestChatImages(t *testing.T) {
	s := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "qwen/qwen2.5-vl-7b", Vision: true},
		lmstudiotest.Model{Key: "qwen/qwen3-8b"},
	)
	body := func(model string) string {
		return `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"what is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw=="}}]}]}`
	}
	if code, b := do(t, "POST", s.URL+"/v1/chat/completions", body("qwen/qwen3-8b")); code != http.StatusBadRequest || !strings.Contains(string(b), "does not support images") {
		t.Fatalf("text-only model: %d %s", code, b)
	}
	if code, b := do(t, "POST", s.URL+"/v1/chat/completions", body("qwen/qwen2.5-vl-7b")); code != http.StatusOK {
		t.Fatalf("vision model: %d %s", code, b)
	}
	reqs := s.ChatRequests()
	last := reqs[len(reqs)-1].Messages[0]
	if last.Content != "what is it?" || len(last.Images) != 1 || last.Images[0].MIME != "image/png" || string(last.Images[0].Data) != "\x89PNG" {
		t.Fatalf("recorded %+v", last)
	}
	if code, _ := do(t, "POST", s.URL+"/v1/chat/completions", `{"model":"qwen/qwen2.5-vl-7b","stream":true,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.org/cat.png"}}]}]}`); code != http.StatusBadRequest {
		t.Fatalf("a remote image URL: %d, want 400", code)
	}
}

// The vision model is listed as LM Studio lists one: capabilities.vision
// in /api/v1/models, type "vlm" in /api/v0/models.
func TestListVisionModel(t *testing.T) {
	s := lmstudiotest.New(t, lmstudiotest.Model{Key: "qwen/qwen2.5-vl-7b", Vision: true})
	_, b := do(t, "GET", s.URL+"/api/v1/models", "")
	m := decode(t, b)["models"].([]any)[0].(map[string]any)
	if m["type"] != "llm" || m["capabilities"].(map[string]any)["vision"] != true {
		t.Fatalf("v1 lists %v", m)
	}
	_, b = do(t, "GET", s.URL+"/api/v0/models", "")
	if m := decode(t, b)["data"].([]any)[0].(map[string]any); m["type"] != "vlm" {
		t.Fatalf("v0 lists %v", m)
	}
}
