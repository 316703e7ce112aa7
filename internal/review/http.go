package review

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrHTTP is a reviewer's server answering with an error status.
var ErrHTTP = errors.New("the reviewer's server refused")

// caller makes the HTTP requests of the remote reviewers: JSON in and out,
// and one or two more tries after a 429 or a 5xx (waiting as Retry-After
// says, up to a cap) or a broken connection.
type caller struct {
	client  *http.Client
	noRetry bool          // one try only (a request that must not be repeated)
	maxWait time.Duration // the longest wait between tries; default 10s
}

func (c caller) do(ctx context.Context, method, url string, header http.Header, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	client, retries, maxWait := c.client, 2, c.maxWait
	if client == nil {
		client = &http.Client{Timeout: 3 * time.Minute}
	}
	if c.noRetry {
		retries = 0
	}
	if maxWait == 0 {
		maxWait = 10 * time.Second
	}
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, client, method, url, header, body, out)
		if err == nil || wait < 0 || attempt == retries {
			return err
		}
		wait = min(max(wait, time.Duration(attempt+1)*250*time.Millisecond), maxWait)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// once makes one request; wait ≥ 0 says the error is worth another try
// after that long (0: the default backoff), -1 that it is not.
func (c caller) once(ctx context.Context, client *http.Client, method, url string, header http.Header, body []byte, out any) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return -1, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return 0, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, fmt.Errorf("%s %s: read the answer: %w", method, url, err)
	}
	if resp.StatusCode >= 300 {
		err := fmt.Errorf("%w: %s %s: %s: %s", ErrHTTP, method, url, resp.Status, errorMessage(data))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return retryAfter(resp.Header.Get("Retry-After")), err
		}
		return -1, err
	}
	if out == nil {
		return -1, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return -1, fmt.Errorf("%s %s: the answer is not the documented JSON: %w", method, url, err)
	}
	return -1, nil
}

// errorMessage reads the error bodies the APIs document:
// {"error":{"type","message"}} (Anthropic, OpenAI), {"error":"…"} or
// {"message":"…"}; otherwise the start of the body.
func errorMessage(data []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil {
		var inner struct{ Type, Message string }
		var s string
		switch {
		case json.Unmarshal(e.Error, &inner) == nil && inner.Message != "":
			if inner.Type != "" {
				return inner.Type + ": " + inner.Message
			}
			return inner.Message
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return s
		case e.Message != "":
			return e.Message
		}
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// retryAfter reads a Retry-After in seconds (0 when absent or a date).
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}
