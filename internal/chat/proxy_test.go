package chat_test

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

// recordingProxy stands in front of a model server: it forwards every
// request, keeps the bodies of chat requests (what context Mai really
// sent), and can pace a streamed answer to a given number of lines (tokens)
// per second, as a real GPU would.
type recordingProxy struct {
	URL  string
	mu   sync.Mutex
	sent [][]byte
	pace time.Duration // between streamed lines; 0 forwards at once
}

func newRecordingProxy(t testing.TB, target string, pace time.Duration) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{pace: pace}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/api/chat" {
			p.mu.Lock()
			p.sent = append(p.sent, body)
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
				if p.pace > 0 && r.URL.Path == "/api/chat" {
					time.Sleep(p.pace)
				}
				if _, werr := w.Write(line); werr != nil {
					return
				}
				fl.Flush()
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

// chats returns the chat request bodies so far.
func (p *recordingProxy) chats() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.sent...)
}
