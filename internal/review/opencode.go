package review

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// DefaultOpenCodeURL is where `opencode serve` listens by default.
const DefaultOpenCodeURL = "http://127.0.0.1:4096"

// OpenCode asks the model of an OpenCode server (`opencode serve`): it
// creates a session (POST /session), sends the prompt and waits for the
// answer (POST /session/{id}/message), then deletes the session.
type OpenCode struct {
	URL      string
	Username string // basic auth user; "opencode" when a password is set
	Password string // OPENCODE_SERVER_PASSWORD of the server; never logged
	HTTP     *http.Client
}

// Name implements Model.
func (o OpenCode) Name() string { return "opencode:" + o.URL }

func (o OpenCode) header() http.Header {
	h := http.Header{}
	if o.Password != "" {
		user := o.Username
		if user == "" {
			user = "opencode"
		}
		req := &http.Request{Header: h}
		req.SetBasicAuth(user, o.Password)
	}
	return h
}

func (o OpenCode) url(p string) string { return strings.TrimRight(o.URL, "/") + p }

// Ask implements Model.
func (o OpenCode) Ask(ctx context.Context, system, prompt string) (string, error) {
	c := caller{client: o.HTTP}
	var session struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, o.url("/session"), o.header(), map[string]string{"title": "Mai review"}, &session); err != nil {
		return "", err
	}
	if session.ID == "" {
		return "", errors.New("the OpenCode server made a session without an id")
	}
	sessionURL := o.url("/session/" + url.PathEscape(session.ID))
	defer c.do(context.WithoutCancel(ctx), http.MethodDelete, sessionURL, o.header(), nil, nil)
	type part struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	in := struct {
		System string `json:"system"`
		Parts  []part `json:"parts"`
	}{system, []part{{"text", prompt}}}
	var out struct {
		Info struct {
			Role  string         `json:"role"`
			Error map[string]any `json:"error"`
		} `json:"info"`
		Parts []part `json:"parts"`
	}
	// No retry: a second POST would ask the same session twice.
	if err := (caller{client: o.HTTP, noRetry: true}).do(ctx, http.MethodPost, sessionURL+"/message", o.header(), in, &out); err != nil {
		return "", err
	}
	if out.Info.Error != nil {
		return "", errors.New("the OpenCode server reports an error: " + errorMessageOf(out.Info.Error))
	}
	var b strings.Builder
	for _, p := range out.Parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

func errorMessageOf(m map[string]any) string {
	if d, ok := m["data"].(map[string]any); ok {
		if s, ok := d["message"].(string); ok {
			return s
		}
	}
	if s, ok := m["name"].(string); ok {
		return s
	}
	return "unknown"
}

// Ping checks that the server answers (GET /global/health).
func (o OpenCode) Ping(ctx context.Context) error {
	var out struct {
		Healthy bool `json:"healthy"`
	}
	if err := (caller{client: o.HTTP, noRetry: true}).do(ctx, http.MethodGet, o.url("/global/health"), o.header(), nil, &out); err != nil {
		return err
	}
	if !out.Healthy {
		return errors.New("the OpenCode server says it is not healthy")
	}
	return nil
}
