package lmstudio

import (
	"encoding/json"
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
