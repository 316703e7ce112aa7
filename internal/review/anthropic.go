package review

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// AnthropicVersion is the API version header the Messages API requires.
const AnthropicVersion = "2023-06-01"

// Anthropic asks a model through the Anthropic Messages API
// (POST /v1/messages, not streamed).
type Anthropic struct {
	BaseURL   string // https://api.anthropic.com
	APIKey    string // sent as x-api-key; never logged
	Model     string
	MaxTokens int // default 1024
	HTTP      *http.Client
}

// Name implements Model.
func (a Anthropic) Name() string { return "anthropic:" + a.Model }

func (a Anthropic) header() http.Header {
	return http.Header{"X-Api-Key": {a.APIKey}, "Anthropic-Version": {AnthropicVersion}}
}

func (a Anthropic) url(p string) string { return strings.TrimRight(a.BaseURL, "/") + p }

// Ask implements Model.
func (a Anthropic) Ask(ctx context.Context, system, prompt string) (string, error) {
	maxTokens := a.MaxTokens
	if maxTokens <= 0 {
		maxTokens = 1024
	}
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	in := struct {
		Model     string    `json:"model"`
		MaxTokens int       `json:"max_tokens"`
		System    string    `json:"system"`
		Messages  []message `json:"messages"`
	}{a.Model, maxTokens, system, []message{{"user", prompt}}}
	var out struct {
		Type    string `json:"type"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		StopReason string `json:"stop_reason"`
	}
	if err := (caller{client: a.HTTP}).do(ctx, http.MethodPost, a.url("/v1/messages"), a.header(), in, &out); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range out.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	if b.Len() == 0 {
		return "", errors.New("the Anthropic answer has no text (stop reason " + out.StopReason + ")")
	}
	return b.String(), nil
}

// Ping checks that the API answers with this key (GET /v1/models costs no tokens).
func (a Anthropic) Ping(ctx context.Context) error {
	var out struct{}
	return (caller{client: a.HTTP, noRetry: true}).do(ctx, http.MethodGet, a.url("/v1/models?limit=1"), a.header(), nil, &out)
}
