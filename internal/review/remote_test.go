package review

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

const goodReview = `{"verdict":"request-changes","concerns":["the persona drops the safety line"],"summary":"mostly fine"}`

// fakeAnthropic follows the Messages API reference: POST /v1/messages with
// x-api-key and anthropic-version, a JSON body with model, max_tokens and
// messages; the answer's content is a list of blocks; errors are
// {"type":"error","error":{"type","message"}} with 429 (rate_limit_error)
// and 529 (overloaded_error) worth a retry.
func fakeAnthropic(t *testing.T, failFirst []int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("x-api-key") != "sk-test" {
			w.WriteHeader(401)
			w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			w.Write([]byte(`{"data":[{"type":"model","id":"claude-test"}],"has_more":false}`))
			return
		}
		var in struct {
			Model     string `json:"model"`
			MaxTokens int    `json:"max_tokens"`
			System    string `json:"system"`
			Messages  []struct{ Role, Content string }
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" || r.Header.Get("anthropic-version") != "2023-06-01" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&in) != nil ||
			in.Model != "claude-test" || in.MaxTokens <= 0 || len(in.Messages) != 1 || in.Messages[0].Role != "user" || in.System == "" {
			w.WriteHeader(400)
			w.Write([]byte(`{"type":"error","error":{"type":"invalid_request_error","message":"bad request"}}`))
			return
		}
		if n <= len(failFirst) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(failFirst[n-1])
			kind := map[int]string{429: "rate_limit_error", 529: "overloaded_error", 500: "api_error"}[failFirst[n-1]]
			w.Write([]byte(`{"type":"error","error":{"type":"` + kind + `","message":"try later"}}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": in.Model,
			"content": []map[string]string{{"type": "text", "text": goodReview}}, "stop_reason": "end_turn",
			"usage": map[string]int{"input_tokens": 10, "output_tokens": 20}})
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestAnthropicReviewer(t *testing.T) {
	ctx := context.Background()
	srv, calls := fakeAnthropic(t, []int{429, 529})
	a := Anthropic{BaseURL: srv.URL, APIKey: "sk-test", Model: "claude-test"}
	got, err := Reviewer{Model: a}.Review(ctx, Change{Subject: "persona", Diff: "+x"})
	if err != nil || got.Verdict != RequestChanges || got.Reviewer != "anthropic:claude-test" || calls.Load() != 3 {
		t.Fatalf("%+v %v after %d calls", got, err, calls.Load())
	}
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	bad := Anthropic{BaseURL: srv.URL, APIKey: "wrong", Model: "claude-test"}
	before := calls.Load()
	_, err = bad.Ask(ctx, "s", "p")
	if !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), "authentication_error: invalid x-api-key") || calls.Load() != before+1 {
		t.Fatalf("401: %v (calls %d)", err, calls.Load()-before)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatal("the key is in the error")
	}
	// Always overloaded: three tries, then no review (never approval).
	srv2, calls2 := fakeAnthropic(t, []int{529, 529, 529, 529, 529, 529})
	got, err = Reviewer{Model: Anthropic{BaseURL: srv2.URL, APIKey: "sk-test", Model: "claude-test"}}.Review(ctx, Change{Diff: "+x"})
	if err != nil || got.Available() || calls2.Load() != 6 || !strings.Contains(got.Error, "overloaded_error") {
		t.Fatalf("%+v %v after %d calls", got, err, calls2.Load())
	}
}

// fakeOpenAI follows the Chat Completions reference: POST /chat/completions
// under the base URL with a bearer key; the answer is in
// choices[0].message.content; errors are {"error":{"message","type"}}.
func TestOpenAICompatibleReviewer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer key-1" {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`))
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			w.Write([]byte(`{"object":"list","data":[{"id":"m","object":"model"}]}`))
			return
		}
		var in struct {
			Model          string
			Stream         bool
			Messages       []struct{ Role, Content string }
			ResponseFormat struct {
				Type       string `json:"type"`
				JSONSchema struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"json_schema"`
			} `json:"response_format"`
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&in) != nil || in.Stream || in.Model != "m" ||
			len(in.Messages) != 2 || in.ResponseFormat.Type != "json_schema" || len(in.ResponseFormat.JSONSchema.Schema) == 0 {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"bad request","type":"invalid_request_error"}}`))
			return
		}
		if n == 1 {
			w.WriteHeader(503)
			w.Write([]byte(`{"error":{"message":"The server is overloaded","type":"server_error"}}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
			"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": goodReview}, "finish_reason": "stop"}}})
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	o := OpenAI{Endpoint: srv.URL + "/v1", APIKey: "key-1", Model: "m"}
	got, err := Reviewer{Model: o}.Review(ctx, Change{Diff: "+x"})
	if err != nil || got.Verdict != RequestChanges || calls.Load() != 2 {
		t.Fatalf("%+v %v after %d calls", got, err, calls.Load())
	}
	if err := o.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	o.APIKey = "nope"
	if _, err := o.Ask(ctx, "s", "p"); !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), "Incorrect API key provided") {
		t.Fatalf("401: %v", err)
	}
}

// fakeOpenCode follows the OpenCode server's API: POST /session makes a
// session {id,…}; POST /session/{id}/message with parts waits for the
// answer {info, parts}; DELETE /session/{id}; GET /global/health; HTTP
// basic auth (user opencode) when the server has a password.
func TestOpenCodeReviewer(t *testing.T) {
	var deleted, messages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if u, p, ok := r.BasicAuth(); !ok || u != "opencode" || p != "pw" {
			w.WriteHeader(401)
			w.Write([]byte(`Unauthorized`))
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/global/health":
			w.Write([]byte(`{"healthy":true,"version":"1.0.0"}`))
		case r.Method == http.MethodPost && r.URL.Path == "/session":
			w.Write([]byte(`{"id":"ses_abc","slug":"x","projectID":"p","directory":"/","title":"Mai review","version":"1","time":{"created":1,"updated":1}}`))
		case r.Method == http.MethodPost && r.URL.Path == "/session/ses_abc/message":
			messages.Add(1)
			var in struct {
				Parts []struct{ Type, Text string }
			}
			if json.NewDecoder(r.Body).Decode(&in) != nil || len(in.Parts) != 1 || in.Parts[0].Type != "text" || !strings.Contains(in.Parts[0].Text, "Diff:") {
				w.WriteHeader(400)
				w.Write([]byte(`{"data":{},"errors":[{"message":"bad parts"}],"success":false}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]any{
				"info":  map[string]any{"id": "msg_2", "sessionID": "ses_abc", "role": "assistant"},
				"parts": []map[string]any{{"id": "prt_1", "type": "step-start"}, {"id": "prt_2", "type": "text", "text": goodReview}, {"id": "prt_3", "type": "step-finish"}},
			})
		case r.Method == http.MethodDelete && r.URL.Path == "/session/ses_abc":
			deleted.Add(1)
			w.Write([]byte(`true`))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"name":"NotFoundError","data":{"message":"not found"}}`))
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	o := OpenCode{URL: srv.URL, Password: "pw"}
	got, err := Reviewer{Model: o}.Review(ctx, Change{Diff: "+x"})
	if err != nil || got.Verdict != RequestChanges || messages.Load() != 1 || deleted.Load() != 1 {
		t.Fatalf("%+v %v (messages %d, deleted %d)", got, err, messages.Load(), deleted.Load())
	}
	if err := o.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	o.Password = "wrong"
	if err := o.Ping(ctx); !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v", err)
	}
}
