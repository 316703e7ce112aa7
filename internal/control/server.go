package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/chat"
)

// Core is what the control API serves: the chat core.
type Core interface {
	Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error
	Decide(ctx context.Context, user, id string, approved bool, pin string) error
}

// Actions an Authorize hook is asked about.
const (
	ActionSend   = "send"   // a message or command (commands may change state)
	ActionDecide = "decide" // an approval decision
)

// Server answers the control API for the owner.
type Server struct {
	Core Core
	// User is whose session the socket speaks for: the owner.
	User string
	// Authorize, when set, is asked before an action; an error refuses it
	// with 403 and the error's text. This is where the PIN is checked.
	Authorize func(r *http.Request, action string) error
	// Status, when set, returns the daemon's live state for GET /v1/status
	// (any JSON value); without it the route answers 404.
	Status func(ctx context.Context) (any, error)
	// SwitchModel, when set, switches the daemon's model and pins it (ref
	// "" unpins) for POST /v1/models/switch, returning the pinned ref, so
	// `mai models switch` changes the model the daemon answers with.
	SwitchModel func(ctx context.Context, ref string) (pinned string, err error)
	// Memory, when set, changes the daemon's memory for the memory
	// commands (POST /v1/memory/forget, /import, /compress); without it
	// those routes answer 501.
	Memory Memory
	Log    zerolog.Logger
}

// PINHeader carries the owner's PIN with a decision or a command that
// changes state (chat.NeedsPIN).
const PINHeader = "X-Mai-PIN"

// endKind marks the last line of a send stream, so a client tells a
// finished answer from a daemon that stopped in the middle.
const endKind = "end"

// maxBody bounds a request body: a message is truncated by the core far
// below this, but a runaway client must not fill memory.
const maxBody = 4 << 20

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"pid": os.Getpid()})
	})
	mux.HandleFunc("POST /v1/send", s.send)
	mux.HandleFunc("POST /v1/decide", s.decide)
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("POST /v1/models/switch", s.switchModel)
	s.memoryRoutes(mux)
	return mux
}

// Serve answers on ln until ctx ends, then lets running streams finish for
// at most grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	// Requests do not inherit ctx: a running answer gets the grace period to
	// finish; after it the connections are closed and clients report that
	// the daemon stopped.
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-done
	return nil
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, action string) bool {
	if s.Authorize == nil {
		return true
	}
	if err := s.Authorize(r, action); err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
		return false
	}
	return true
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, ActionSend) {
		return
	}
	var m chat.Message
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&m); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON message: " + err.Error()})
		return
	}
	m.User = s.User
	m.PIN = r.Header.Get(PINHeader) // commands that change state need it
	s.Log.Debug().Int("bytes", len(m.Text)).Msg("control: message")
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	emit := func(ev chat.Event) {
		// Approvals arrive from the goroutine running the code while the
		// turn waits, never at the same time as another event.
		if err := enc.Encode(ev); err == nil && flusher != nil {
			flusher.Flush()
		}
	}
	if err := s.Core.Send(r.Context(), m, emit); err != nil && !errors.Is(err, context.Canceled) {
		s.Log.Debug().Err(err).Msg("control: send failed")
	}
	enc.Encode(chat.Event{Kind: endKind})
}

type decision struct {
	ID       string `json:"id"`
	Approved bool   `json:"approved"`
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, ActionDecide) {
		return
	}
	var d decision
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&d); err != nil || d.ID == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("the body must be {\"id\": …, \"approved\": true|false}: %v", err)})
		return
	}
	err := s.Core.Decide(r.Context(), s.User, d.ID, d.Approved, r.Header.Get(PINHeader))
	switch {
	case errors.Is(err, chat.ErrPINRequired):
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if s.Status == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "this daemon reports no status"})
		return
	}
	v, err := s.Status(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ModelSwitch is the body of POST /v1/models/switch and of its answer.
type ModelSwitch struct {
	Ref string `json:"ref"` // "" unpins
}

func (s *Server) switchModel(w http.ResponseWriter, r *http.Request) {
	if s.SwitchModel == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "this daemon does not switch models"})
		return
	}
	var req ModelSwitch
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be {\"ref\": …}: " + err.Error()})
		return
	}
	pinned, err := s.SwitchModel(r.Context(), req.Ref)
	if err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, ModelSwitch{Ref: pinned})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
