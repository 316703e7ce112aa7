package review

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// OpenAI asks a model on any OpenAI-compatible endpoint
// (POST {endpoint}/chat/completions, not streamed), with the answer held
// to Schema through response_format.
type OpenAI struct {
	Endpoint string // the API base, e.g. http://host:8000/v1
	APIKey   string // sent as a bearer token when set; never logged
	Model    string
	HTTP     *http.Client
}

// Name implements Model.
func (o OpenAI) Name() string { return "openai-compatible:" + o.Model }

func (o OpenAI) header() http.Header {
	h := http.Header{}
	if o.APIKey != "" {
		h.Set("Authorization", "Bearer "+o.APIKey)
	}
	return h
}

func (o OpenAI) url(p string) string { return strings.TrimRight(o.Endpoint, "/") + p }

// Ask implements Model.
func (o OpenAI) Ask(ctx context.Context, system, prompt string) (string, error) {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type jsonSchema struct {
		Name   string          `json:"name"`
		Strict bool            `json:"strict"`
		Schema json.RawMessage `json:"schema"`
	}
	type format struct {
		Type       string     `json:"type"`
		JSONSchema jsonSchema `json:"json_schema"`
	}
	in := struct {
		Model          string    `json:"model"`
		Messages       []message `json:"messages"`
		ResponseFormat format    `json:"response_format"`
		Stream         bool      `json:"stream"`
	}{o.Model, []message{{"system", system}, {"user", prompt}}, format{"json_schema", jsonSchema{"review", true, Schema}}, false}
	var out struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal string  `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := (caller{client: o.HTTP}).do(ctx, http.MethodPost, o.url("/chat/completions"), o.header(), in, &out); err != nil {
		return "", err
	}
	if len(out.Choices) == 0 || out.Choices[0].Message.Content == nil {
		if len(out.Choices) > 0 && out.Choices[0].Message.Refusal != "" {
			return "", errors.New("the model refused: " + out.Choices[0].Message.Refusal)
		}
		return "", errors.New("the answer has no message content")
	}
	return *out.Choices[0].Message.Content, nil
}

// Ping checks that the endpoint answers (GET {endpoint}/models).
func (o OpenAI) Ping(ctx context.Context) error {
	var out struct{}
	return (caller{client: o.HTTP, noRetry: true}).do(ctx, http.MethodGet, o.url("/models"), o.header(), nil, &out)
}
