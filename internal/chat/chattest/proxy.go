// Package chattest helps tests of the chat core and its front ends: a
// proxy in front of a real model server that records what context was sent
// and can pace a streamed answer like a real GPU.
package chattest

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy stands in front of a model server: it forwards every
// request, keeps the bodies of chat requests (what context Mai really
// sent), and can pace a streamed answer to a given number of lines (tokens)
// per second, as a real GPU would.
type Proxy struct {
	URL   string // the base URL to give the client instead of the server's
	mu    sync.Mutex
	sent  [][]byte
	times []Timing
	pace  time.Duration
}

// Timing is when the proxy saw one chat request and its answer.
type Timing struct {
	Arrived  time.Time // the request reached the proxy
	LastByte time.Time // the last line of the answer left the proxy
}

// NewProxy forwards to target (an Ollama base URL), waiting pace before
// each streamed line of a chat answer (0: no wait). It stops when the test
// ends.
func NewProxy(t testing.TB, target string, pace time.Duration) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{pace: pace}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		body, _ := io.ReadAll(r.Body)
		idx := -1
		if r.URL.Path == "/api/chat" {
			p.mu.Lock()
			idx = len(p.sent)
			p.sent = append(p.sent, body)
			p.times = append(p.times, Timing{Arrived: arrived})
			p.mu.Unlock()
		}
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String()+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		fl := w.(http.Flusher)
		rd := bufio.NewReader(resp.Body)
		for {
			line, err := rd.ReadBytes('\n')
			if len(line) > 0 {
				if pace := p.currentPace(); pace > 0 && r.URL.Path == "/api/chat" {
					time.Sleep(pace)
				}
				if _, werr := w.Write(line); werr != nil {
					return
				}
				fl.Flush()
				if idx >= 0 {
					p.mu.Lock()
					p.times[idx].LastByte = time.Now()
					p.mu.Unlock()
				}
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// SetPace changes the wait before each streamed line of a chat answer
// from now on (0: none), e.g. to make one answer slow enough to interrupt.
func (p *Proxy) SetPace(pace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pace = pace
}

// currentPace returns the wait before each streamed line of a chat answer.
func (p *Proxy) currentPace() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pace
}

// Timings returns when each chat request arrived and its answer ended,
// in the order of Chats.
func (p *Proxy) Timings() []Timing {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Timing(nil), p.times...)
}

// Chats returns the bodies of the chat requests so far, oldest first.
func (p *Proxy) Chats() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.sent...)
}
