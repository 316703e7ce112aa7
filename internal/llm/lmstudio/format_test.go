package lmstudio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm"
)

// A JSON Schema in Request.Format becomes OpenAI's response_format of type
// json_schema, with the schema under json_schema.schema.
func TestEncodeChatResponseFormat(t *testing.T) {
	schema := json.RawMessage(`{"type":"object"}`)
	b, err := json.Marshal(encodeChat(llm.Request{Model: "m", Format: schema}))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema struct {
				Name   string          `json:"name"`
				Strict bool            `json:"strict"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	rf := got.ResponseFormat
	if rf.Type != "json_schema" || rf.JSONSchema.Name == "" || !rf.JSONSchema.Strict || string(rf.JSONSchema.Schema) != `{"type":"object"}` {
		t.Fatalf("response_format = %+v in %s", rf, b)
	}
	b, _ = json.Marshal(encodeChat(llm.Request{Model: "m"}))
	var plain map[string]any
	json.Unmarshal(b, &plain)
	if _, ok := plain["response_format"]; ok {
		t.Fatalf("response_format sent without a schema: %s", b)
	}
}

// A message with an image goes as OpenAI's content parts: the text, then
// the image as a base64 data URI; one without stays a plain string.
func TestEncodeChatImages(t *testing.T) {
	req := llm.Request{Model: "m", Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: "persona"},
		{Role: llm.RoleUser, Content: "what is this?", Images: []llm.Image{{MIME: "image/png", Data: []byte("\x89PNG")}}},
	}}
	b, err := json.Marshal(encodeChat(req))
	if err != nil {
		t.Fatal(err)
	}
	want := `"messages":[{"role":"system","content":"persona"},{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw=="}}]}]`
	if !strings.Contains(string(b), want) {
		t.Fatalf("body %s\nwant it to hold %s", b, want)
	}
}
