package lmstudio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/maicompanion/mai/internal/llm"
)

// maxErrorBody bounds how much of an error response is read for its message.
const maxErrorBody = 64 << 10

// server names a backend in messages and says what to check when it fails.
type server struct {
	label    string // "LM Studio"
	endpoint string // base URL without a trailing slash
	startCmd string // how to start it, e.g. "lms server start"
	logHint  string // where its errors are explained, e.g. "lms log stream"
	// tokenHint says what to do when the server refuses the request.
	tokenHint string
}

// transportError turns a failed round trip into ctx's error when the caller
// gave up, or into ErrUnreachable naming the server and how to start it.
func (s *server) transportError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	return &llm.Error{
		Kind:  llm.ErrUnreachable,
		Msg:   fmt.Sprintf("%s is not reachable at %s — is the server running (%s)?", s.label, s.endpoint, s.startCmd),
		Cause: err,
	}
}

// apiError is the error body of LM Studio's native API and of the
// OpenAI-compatible endpoints: {"error": {"message", "type", "code", "param"}}.
// Ollama's native API sends {"error": "text"}, which this also accepts.
type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"` // a string on LM Studio, sometimes a number elsewhere
	Param   string `json:"param"`
}

func (e *apiError) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.Message)
	}
	type plain apiError
	return json.Unmarshal(b, (*plain)(e))
}

// notFound reports whether the error says a model does not exist.
func (e *apiError) notFound(status int) bool {
	if e.Type == "model_not_found" || e.Code == "model_not_found" {
		return true
	}
	return status == http.StatusNotFound && strings.Contains(strings.ToLower(e.Message), "not found")
}

// statusError reads a non-2xx response and returns the error for it. A model
// that does not exist is reported by notFound, which lists what exists.
func (s *server) statusError(resp *http.Response, op string, notFound func(msg string) error) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var wrapped struct {
		Error *apiError `json:"error"`
	}
	if isHTML(resp.Header.Get("Content-Type"), body) {
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s answered %s with an HTML page (HTTP %d) instead of JSON — is another program listening on that address?",
			s.label, s.endpoint, op, resp.StatusCode)}
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &wrapped) == nil && wrapped.Error != nil {
		msg = wrapped.Error.Message
		if notFound != nil && wrapped.Error.notFound(resp.StatusCode) {
			return notFound(msg)
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &llm.Error{Kind: llm.ErrUnauthorized, Msg: fmt.Sprintf(
			"%s at %s refused to %s (HTTP %d): %s",
			s.label, s.endpoint, op, resp.StatusCode, s.tokenHint), Cause: &statusText{resp.StatusCode, msg}}
	}
	return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
		"%s at %s failed to %s (HTTP %d); its log (%s) says why",
		s.label, s.endpoint, op, resp.StatusCode, s.logHint), Cause: &statusText{resp.StatusCode, msg}}
}

// decodeError reports a 2xx body that is not the JSON expected.
func (s *server) decodeError(ctx context.Context, op string, body []byte, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}
	if isHTML("", body) {
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s answered %s with an HTML page instead of JSON — is another program listening on that address?",
			s.label, s.endpoint, op)}
	}
	return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
		"%s at %s sent an unreadable answer to %s; check that the address points to %s",
		s.label, s.endpoint, op, s.label), Cause: err}
}

// statusText is a server's own error message and HTTP status, kept as the cause.
type statusText struct {
	code int
	msg  string
}

func (e *statusText) Error() string { return errorText(e.msg).Error() }

// errorText is a server's own error message, kept as the cause.
type errorText string

func (e errorText) Error() string {
	if e == "" {
		return "no message"
	}
	return string(e)
}

func isHTML(contentType string, body []byte) bool {
	if strings.HasPrefix(contentType, "text/html") {
		return true
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '<'
}

// readJSON decodes a whole response body into v, reporting malformed or
// truncated JSON as ErrBadResponse.
func (s *server) readJSON(ctx context.Context, resp *http.Response, op string, v any) error {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s: %w", op, ctxErr)
		}
		return &llm.Error{Kind: llm.ErrBadResponse, Msg: fmt.Sprintf(
			"%s at %s broke off its answer to %s", s.label, s.endpoint, op), Cause: err}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return s.decodeError(ctx, op, body, err)
	}
	return nil
}
