// Package ollama is an llm.Backend for Ollama's native API: installed and
// loaded models (/api/tags, /api/show, /api/ps), loading and unloading
// (keep_alive), streamed chat (/api/chat, NDJSON) and embeddings (/api/embed).
package ollama

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/llm"
)

// Defaults for Options.
const (
	DefaultRequestTimeout = 15 * time.Second
	DefaultHeaderTimeout  = 10 * time.Minute
	DefaultIdleTimeout    = 60 * time.Second
)

// Options tune a Client. The zero value is fine.
type Options struct {
	// HTTPClient sends the requests; nil uses a client with no overall
	// timeout (streams are bounded by the timeouts below instead).
	HTTPClient *http.Client
	// RequestTimeout bounds the small metadata calls (version, tags, show,
	// ps); 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// HeaderTimeout bounds the wait for a chat, load or embed answer to
	// start, which includes loading the model from disk; 0 means
	// DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// IdleTimeout ends a chat stream that sends nothing for this long; 0
	// means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Client talks to one Ollama server. It is safe for concurrent use.
type Client struct {
	base    string // endpoint without a trailing slash
	http    *http.Client
	timeout time.Duration
	header  time.Duration
	idle    time.Duration
}

var _ llm.Backend = (*Client)(nil)

// New returns a client for the Ollama server at endpoint (e.g.
// http://localhost:11434).
func New(endpoint string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ollama endpoint %q is not an http:// or https:// URL", endpoint)
	}
	c := &Client{base: u.String(), http: opts.HTTPClient, timeout: opts.RequestTimeout, header: opts.HeaderTimeout, idle: opts.IdleTimeout}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRequestTimeout
	}
	if c.header <= 0 {
		c.header = DefaultHeaderTimeout
	}
	if c.idle <= 0 {
		c.idle = DefaultIdleTimeout
	}
	return c, nil
}

// Name returns "ollama".
func (c *Client) Name() string { return "ollama" }

// Endpoint returns the base URL.
func (c *Client) Endpoint() string { return c.base }

// who names the backend in messages to the owner.
func (c *Client) who() string { return "Ollama at " + c.base }

// errStalled is the cause of a stream cancelled by the idle timeout.
var errStalled = errors.New("stream stalled")

// errTimedOut is the cause of a request cancelled by our own timeout.
var errTimedOut = errors.New("request timed out")

// unreachable explains a request that got no answer at all.
func (c *Client) unreachable(err error) error {
	return &llm.Error{Kind: llm.ErrUnreachable, Msg: fmt.Sprintf("Ollama is not reachable at %s", c.base), Cause: err}
}

func (c *Client) bad(format string, args ...any) *llm.Error {
	return &llm.Error{Kind: llm.ErrBadResponse, Msg: c.who() + " " + fmt.Sprintf(format, args...)}
}

// transportError turns an error from http.Client.Do or a body read into one
// for the caller: the caller's own cancellation as it is, our timeout or a
// failed connection as unreachable.
func (c *Client) transportError(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		if errors.Is(cause, errTimedOut) || errors.Is(cause, errStalled) {
			return c.unreachable(fmt.Errorf("%s: no answer in time", step))
		}
		return fmt.Errorf("ollama %s: %w", step, cause)
	}
	return c.unreachable(fmt.Errorf("%s: %w", step, err))
}

// send posts (or gets, when body is nil and method is GET) a JSON request and
// returns the response when the status is 200. ctx must carry the deadline.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("ollama %s: encode request: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("ollama %s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/x-ndjson")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, c.statusError(ctx, resp, path)
	}
	return resp, nil
}

// apiError is Ollama's error body, {"error": "..."}.
type apiError struct {
	Error string `json:"error"`
}

// notFoundError marks a 404 answer, which the callers that know the model
// name turn into an *llm.ModelNotFoundError.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// statusError explains a non-200 answer.
func (c *Client) statusError(ctx context.Context, resp *http.Response, path string) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil && len(b) == 0 {
		return c.transportError(ctx, path, err)
	}
	if isHTML(resp, b) {
		return c.bad("answered %s with an HTML page (HTTP %d) instead of JSON: the address is a proxy or a web page, not the Ollama API", path, resp.StatusCode)
	}
	var e apiError
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		if resp.StatusCode == http.StatusNotFound {
			return &notFoundError{e.Error}
		}
		le := c.bad("failed on %s (HTTP %d): %s", path, resp.StatusCode, e.Error)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			le.Kind = llm.ErrUnauthorized
		}
		return le
	}
	if resp.StatusCode == http.StatusNotFound {
		return c.bad("has no %s (HTTP 404): the address is not an Ollama server, or one too old", path)
	}
	return c.bad("answered %s with HTTP %d: %s", path, resp.StatusCode, snippet(b))
}

func isHTML(resp *http.Response, b []byte) bool {
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return true
	}
	return bytes.HasPrefix(bytes.TrimSpace(b), []byte("<"))
}

// snippet is the start of a body, for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty body)"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// call sends a request bounded by timeout and decodes the JSON answer into
// out.
func (c *Client) call(ctx context.Context, timeout time.Duration, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return c.transportError(ctx, path, err)
	}
	if isHTML(resp, b) {
		return c.bad("answered %s with an HTML page instead of JSON: the address is a proxy or a web page, not the Ollama API", path)
	}
	var e apiError
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return c.bad("failed on %s: %s", path, e.Error)
	}
	if err := json.Unmarshal(b, out); err != nil {
		le := c.bad("sent malformed JSON for %s", path)
		le.Cause = err
		return le
	}
	return nil
}

// notFound turns a 404 about model into an *llm.ModelNotFoundError listing
// the installed models; other errors pass through.
func (c *Client) notFound(ctx context.Context, model string, err error) error {
	var nf *notFoundError
	if !errors.As(err, &nf) {
		return err
	}
	e := &llm.ModelNotFoundError{Backend: c.who(), Model: model}
	if tags, terr := c.tags(ctx); terr == nil {
		for _, t := range tags {
			e.Available = append(e.Available, t.Name)
		}
	}
	return e
}

// keepAlive encodes a keep-alive for Ollama: seconds, -1 for forever, or
// absent for the server's default.
func keepAlive(d time.Duration) any {
	switch {
	case d < 0:
		return -1
	case d == 0:
		return nil
	}
	return d.Seconds()
}

// fullName adds Ollama's implicit ":latest" tag, so that "llama3.2" and
// "llama3.2:latest" compare equal.
func fullName(model string) string {
	slash := strings.LastIndexByte(model, '/')
	if !strings.Contains(model[slash+1:], ":") {
		return model + ":latest"
	}
	return model
}
