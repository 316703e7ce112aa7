package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/memory"
)

// Memory changes stored memory for the memory commands. The daemon serves
// its own on the socket, so that what the commands change is seen by its
// chat core and caches; a Client is one too, so a command runs the same
// code against the daemon or in its own process. pin is the PIN the
// command came with; a missing or wrong one is an error wrapping
// chat.ErrPINRequired when a PIN is stored.
type Memory interface {
	// Forget forgets a user's history (older than Before when set) or one
	// fact; memory.ErrNotFound when there is no such user or fact.
	Forget(ctx context.Context, f MemoryForget, pin string) (memory.ForgetReport, error)
	// Import reads an export; memory.ErrHistoryExists or an
	// *memory.ImportError when nothing was imported.
	Import(ctx context.Context, r io.Reader, o MemoryImport, pin string) (memory.ExportReport, error)
	// Compress runs the compression pass.
	Compress(ctx context.Context, o MemoryCompress) (memory.CompressReport, error)
}

// MemoryForget is what to forget: a user's history, or one fact.
type MemoryForget struct {
	User string `json:"user,omitempty"`
	// Before, with User, limits it to what is older: YYYY-MM-DD or RFC 3339,
	// as the owner typed it.
	Before string `json:"before,omitempty"`
	Fact   int64  `json:"fact,omitempty"`
}

// MemoryImport says how to import an export.
type MemoryImport struct {
	// Source names the export (its file) in the audit log.
	Source string
	// Merge adds it even to users who already have history.
	Merge bool
}

// MemoryCompress says how to run the compression pass.
type MemoryCompress struct {
	DryRun bool `json:"dry_run"`
}

// memoryRoutes adds the routes of s.Memory to mux.
func (s *Server) memoryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/memory/forget", func(w http.ResponseWriter, r *http.Request) {
		var f MemoryForget
		if !s.memoryReady(w, r) || !decodeBody(w, r, &f, `{"user": …, "before": …} or {"fact": ID}`) {
			return
		}
		rep, err := s.Memory.Forget(r.Context(), f, r.Header.Get(PINHeader))
		writeMemory(w, rep, err)
	})
	mux.HandleFunc("POST /v1/memory/import", func(w http.ResponseWriter, r *http.Request) {
		if !s.memoryReady(w, r) {
			return
		}
		// The body is the export itself, streamed as it is read.
		q := r.URL.Query()
		merge, _ := strconv.ParseBool(q.Get("merge"))
		rep, err := s.Memory.Import(r.Context(), r.Body, MemoryImport{Source: q.Get("source"), Merge: merge}, r.Header.Get(PINHeader))
		writeMemory(w, rep, err)
	})
	mux.HandleFunc("POST /v1/memory/compress", func(w http.ResponseWriter, r *http.Request) {
		var o MemoryCompress
		if !s.memoryReady(w, r) || !decodeBody(w, r, &o, `{"dry_run": true|false}`) {
			return
		}
		rep, err := s.Memory.Compress(r.Context(), o)
		writeMemory(w, rep, err)
	})
}

func (s *Server) memoryReady(w http.ResponseWriter, r *http.Request) bool {
	if s.Memory == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this daemon does not change memory"})
		return false
	}
	s.Log.Info().Str("route", r.URL.Path).Msg("control: memory command")
	return true
}

// decodeBody decodes a JSON body into v, answering 400 with the shape
// expected when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be " + shape + ": " + err.Error()})
		return false
	}
	return true
}

// Kinds of the errors a memory command branches on, as the daemon names
// them in its answer.
const (
	kindNotFound     = "not_found"
	kindHistory      = "history_exists"
	kindImportErrors = "malformed_lines"
)

// writeMemory answers a memory route: the report, or the error with the
// kind the client turns back into the error it stands for.
func writeMemory(w http.ResponseWriter, rep any, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	var ie *memory.ImportError
	status, e := http.StatusInternalServerError, memoryError{Error: err.Error()}
	switch {
	case errors.Is(err, chat.ErrPINRequired):
		status = http.StatusUnauthorized
	case errors.As(err, &ie):
		status, e.Kind, e.Lines = http.StatusUnprocessableEntity, kindImportErrors, ie.Lines
	case errors.Is(err, memory.ErrNotFound):
		status, e.Kind = http.StatusNotFound, kindNotFound
	case errors.Is(err, memory.ErrHistoryExists):
		status, e.Kind = http.StatusConflict, kindHistory
	}
	writeJSON(w, status, e)
}

// memoryError is the body of a memory route's error.
type memoryError struct {
	Error string             `json:"error"`
	Kind  string             `json:"kind,omitempty"`
	Lines []memory.LineError `json:"lines,omitempty"`
}

// daemonError is an error the daemon answered with: its text, and the
// error it stands for, for errors.Is.
type daemonError struct {
	msg string
	is  error
}

func (e *daemonError) Error() string { return e.msg }
func (e *daemonError) Unwrap() error { return e.is }

// Forget asks the daemon to forget (see Memory).
func (c *Client) Forget(ctx context.Context, f MemoryForget, pin string) (memory.ForgetReport, error) {
	var rep memory.ForgetReport
	return rep, c.memory(ctx, "/v1/memory/forget", jsonBody(f), pin, &rep)
}

// Import streams an export to the daemon (see Memory).
func (c *Client) Import(ctx context.Context, r io.Reader, o MemoryImport, pin string) (memory.ExportReport, error) {
	var rep memory.ExportReport
	path := "/v1/memory/import?merge=" + strconv.FormatBool(o.Merge) + "&source=" + url.QueryEscape(o.Source)
	return rep, c.memory(ctx, path, body{r, "application/x-ndjson"}, pin, &rep)
}

// Compress asks the daemon to run the compression pass (see Memory).
func (c *Client) Compress(ctx context.Context, o MemoryCompress) (memory.CompressReport, error) {
	var rep memory.CompressReport
	return rep, c.memory(ctx, "/v1/memory/compress", jsonBody(o), "", &rep)
}

// memory posts to a memory route and decodes the report into out, or
// turns the daemon's error back into the one it stands for.
func (c *Client) memory(ctx context.Context, path string, b body, pin string, out any) error {
	resp, err := c.do(ctx, path, b, pin)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
			return errors.New("control: bad report from the daemon: " + err.Error())
		}
		return nil
	}
	var e memoryError
	json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&e)
	switch e.Kind {
	case kindImportErrors:
		return &memory.ImportError{Lines: e.Lines}
	case kindNotFound:
		return &daemonError{e.Error, memory.ErrNotFound}
	case kindHistory:
		return &daemonError{e.Error, memory.ErrHistoryExists}
	}
	return statusError(resp.StatusCode, resp.Status, e.Error)
}
