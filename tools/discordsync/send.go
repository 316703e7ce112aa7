package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sender posts payloads to one Discord webhook.
type sender struct {
	client  *http.Client
	webhook string
	// attempts bounds the posts of one payload, the first included, while
	// Discord answers 429; maxWait bounds a single wait it asks for.
	attempts int
	maxWait  time.Duration
	log      io.Writer
}

// send posts p, waiting and retrying as long as Discord rate-limits the
// webhook and the bounds allow.
func (s sender) send(ctx context.Context, p payload) error {
	body, err := encodePayload(p)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		wait, err := s.post(ctx, body)
		if err != nil || wait == 0 {
			return err
		}
		if attempt >= s.attempts {
			return fmt.Errorf("discord still rate-limits the webhook after %d attempts; run the job again later", attempt)
		}
		if wait > s.maxWait {
			return fmt.Errorf("discord asks to wait %s before the next post, longer than %s; run the job again later", wait, s.maxWait)
		}
		fmt.Fprintf(s.log, "discord rate-limits the webhook; retrying in %s\n", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for discord rate limit: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// post makes one request. It returns how long to wait before retrying when
// Discord answers 429, and an error for anything but success.
func (s sender) post(ctx context.Context, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.webhook, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("build webhook request: the WEBHOOK secret is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mai-discordsync")
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the request URL, which holds the webhook token.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post to discord webhook: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, fmt.Errorf("read discord answer: %w", err)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return retryAfter(resp.Header, answer), nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return 0, fmt.Errorf("discord refused the webhook (%s: %s); check that the WEBHOOK secret holds the URL of an existing webhook", resp.Status, snippet(answer))
	default:
		return 0, fmt.Errorf("discord webhook answered %s: %s", resp.Status, snippet(answer))
	}
}

// retryAfter reads the wait Discord asks for: retry_after in the JSON body (in
// seconds, fractional), else the Retry-After header, else one second.
func retryAfter(h http.Header, body []byte) time.Duration {
	var rl struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &rl) == nil && rl.RetryAfter > 0 {
		return time.Duration(rl.RetryAfter * float64(time.Second))
	}
	if secs, err := strconv.ParseFloat(h.Get("Retry-After"), 64); err == nil && secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	return time.Second
}

// snippet makes an answer body fit on one line of an error message.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return "empty answer"
	}
	return truncate(s, 300)
}

// encodePayload is the exact request body: compact JSON, with <, > and &
// left as they are so that dry-run output stays readable.
func encodePayload(p payload) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// redact removes the webhook URL and its token from text, whatever step
// produced it: the URL is a secret and job logs are readable by anyone who
// can read the repository.
func redact(text, webhook string) string {
	if webhook == "" {
		return text
	}
	text = strings.ReplaceAll(text, webhook, "<webhook>")
	if u, err := url.Parse(webhook); err == nil {
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if tok := segs[len(segs)-1]; len(segs) >= 2 && len(tok) >= 8 {
			text = strings.ReplaceAll(text, tok, "<token>")
		}
	}
	return text
}
