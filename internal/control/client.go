package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/chat"
)

// Errors a client branches on.
var (
	// ErrNoDaemon means nothing answers on the socket: no daemon runs.
	ErrNoDaemon = errors.New("no daemon answers on the control socket")
	// ErrDaemonGone means the daemon stopped while a request was running.
	ErrDaemonGone = errors.New("the daemon stopped in the middle of the answer")
)

// Client talks to a daemon's control socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the socket at path; nothing is contacted.
func NewClient(path string) *Client {
	return &Client{path: path, http: &http.Client{Transport: &http.Transport{DialContext: dialer(path), DisableCompression: true}}}
}

// Ping reports whether a daemon answers, within timeout.
func (c *Client) Ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://mai/v1/ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w (%s): %v", ErrNoDaemon, c.path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w (%s): status %s", ErrNoDaemon, c.path, resp.Status)
	}
	return nil
}

// Send sends a message and relays the events of its answer to emit until
// the daemon says it is finished. Cancelling ctx ends the request, which
// stops the answer in the daemon. The user is the daemon's owner whatever
// m.User says. m.PIN goes with it in a header; a command that needs it
// and came without it (or with a wrong one) fails with an error wrapping
// chat.ErrPINRequired.
func (c *Client) Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error {
	resp, err := c.post(ctx, "/v1/send", m, m.PIN)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var last error
	for sc.Scan() {
		var ev chat.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("control: bad event from the daemon: %w", err)
		}
		switch ev.Kind {
		case endKind:
			return last
		case chat.EventError:
			last = eventError(ev.Text)
		}
		emit(ev)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrDaemonGone
}

// Status decodes the daemon's live state (GET /v1/status) into v.
func (c *Client) Status(ctx context.Context, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://mai/v1/status", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w (%s): %v", ErrNoDaemon, c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		return fmt.Errorf("control: %s: %s", resp.Status, e.Error)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return fmt.Errorf("control: bad status from the daemon: %w", err)
	}
	return nil
}

// eventError is the error an error event stands for; one that says a PIN
// is needed wraps chat.ErrPINRequired again, so the front end can ask.
func eventError(text string) error {
	if rest, ok := strings.CutPrefix(text, chat.ErrPINRequired.Error()); ok {
		return fmt.Errorf("%w%s", chat.ErrPINRequired, rest)
	}
	return errors.New(text)
}

// Decide answers a pending approval, with the PIN when one is stored
// (chat.ErrPINRequired otherwise).
func (c *Client) Decide(ctx context.Context, id string, approved bool, pin string) error {
	resp, err := c.post(ctx, "/v1/decide", decision{ID: id, Approved: approved}, pin)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// SwitchModel asks the daemon to switch to ref and pin it ("" unpins); it
// returns the ref the daemon pinned.
func (c *Client) SwitchModel(ctx context.Context, ref string) (string, error) {
	resp, err := c.post(ctx, "/v1/models/switch", ModelSwitch{Ref: ref}, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var got ModelSwitch
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&got); err != nil {
		return "", fmt.Errorf("control: models switch: %w", err)
	}
	return got.Ref, nil
}

// post sends v as JSON and returns a 200 response, or the daemon's error.
func (c *Client) post(ctx context.Context, path string, v any, pin string) (*http.Response, error) {
	resp, err := c.do(ctx, path, jsonBody(v), pin)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct{ Error string }
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		return nil, statusError(resp.StatusCode, resp.Status, e.Error)
	}
	return resp, nil
}

// body is a request's body and its content type.
type body struct {
	r           io.Reader
	contentType string
}

// jsonBody is v as JSON; the values sent are plain data, which always
// encode.
func jsonBody(v any) body {
	b, _ := json.Marshal(v)
	return body{bytes.NewReader(b), "application/json"}
}

// do posts b with the PIN, when there is one, and returns the response
// whatever its status.
func (c *Client) do(ctx context.Context, path string, b body, pin string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://mai"+path, b.r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", b.contentType)
	if pin != "" {
		req.Header.Set(PINHeader, pin)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w (%s): %v", ErrNoDaemon, c.path, err)
	}
	return resp, nil
}

// statusError is the error a daemon's answer other than 200 stands for: a
// PIN that is missing or wrong wraps chat.ErrPINRequired, with the
// daemon's words.
func statusError(code int, status, msg string) error {
	if code == http.StatusUnauthorized {
		if err := eventError(msg); errors.Is(err, chat.ErrPINRequired) {
			return err
		}
		return fmt.Errorf("%w (%s)", chat.ErrPINRequired, msg)
	}
	return fmt.Errorf("control: %s: %s", status, msg)
}
