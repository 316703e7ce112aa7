package ollama

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
)

// A JSON Schema in Request.Format reaches Ollama as the format field, as
// its API documents for structured outputs; without one the field is absent.
func TestChatBodyFormat(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"v":{"type":"string"}},"required":["v"]}`)
	b, err := json.Marshal(chatBody(llm.Request{Model: "m", Format: schema}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if string(got["format"]) != string(schema) {
		t.Fatalf("format = %s, want %s", got["format"], schema)
	}
	b, _ = json.Marshal(chatBody(llm.Request{Model: "m"}))
	got = nil
	json.Unmarshal(b, &got)
	if _, ok := got["format"]; ok {
		t.Fatalf("format sent without a schema: %s", b)
	}
}

// A message's images reach Ollama base64-encoded in the message's images
// field, as its chat API documents.
func TestChatBodyImages(t *testing.T) {
	b, err := json.Marshal(chatBody(llm.Request{Model: "m", Messages: []llm.Message{
		{Role: llm.RoleUser, Content: "what is this?", Images: []llm.Image{{MIME: "image/png", Data: []byte("\x89PNG")}}},
		{Role: llm.RoleAssistant, Content: "a picture"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	want := `"messages":[{"role":"user","content":"what is this?","images":["iVBORw=="]},{"role":"assistant","content":"a picture"}]`
	if !strings.Contains(string(b), want) {
		t.Fatalf("body %s\nwant it to hold %s", b, want)
	}
}
