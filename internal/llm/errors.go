package llm

import (
	"errors"
	"fmt"
	"strings"
)

// Conditions callers branch on. Backends return errors that match them with
// errors.Is, usually as an *Error or *ModelNotFoundError carrying a message
// for the owner.
var (
	// ErrModelNotFound means the server has no model by that name; the error
	// is a *ModelNotFoundError listing the names it has.
	ErrModelNotFound = errors.New("model not found")
	// ErrUnreachable means nothing answered at the endpoint (refused, timed
	// out, DNS); trying another backend is reasonable.
	ErrUnreachable = errors.New("backend not reachable")
	// ErrUnauthorized means the server wants an API token, or a different one.
	ErrUnauthorized = errors.New("backend refused the API token")
	// ErrBadResponse means the server answered but not usably: an HTTP
	// error, HTML, malformed or truncated JSON, an error inside a stream.
	ErrBadResponse = errors.New("bad response from backend")
	// ErrStreamTruncated means a stream ended before the server said the
	// answer was finished; the part already received is incomplete.
	ErrStreamTruncated = errors.New("stream ended before the answer finished")
)

// Error is a backend failure: a sentence for the owner naming the backend
// and what to check, the condition it matches, and the underlying cause.
type Error struct {
	Kind  error  // one of the Err* conditions above
	Msg   string // e.g. "LM Studio is not reachable at http://localhost:1234 — is the server running (lms server start)?"
	Cause error  // may be nil
}

// Error returns the message followed by the cause in parentheses.
func (e *Error) Error() string {
	if e.Cause == nil {
		return e.Msg
	}
	return e.Msg + " (" + e.Cause.Error() + ")"
}

// Unwrap returns the condition and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// ModelNotFoundError reports an unknown model name and what exists instead.
type ModelNotFoundError struct {
	Backend   string   // e.g. "LM Studio at http://localhost:1234"
	Model     string   // the name asked for
	Available []string // the names the backend has
}

// Error names the model and lists the available ones.
func (e *ModelNotFoundError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("%s has no model %q and no models installed", e.Backend, e.Model)
	}
	return fmt.Sprintf("%s has no model %q; available: %s", e.Backend, e.Model, strings.Join(e.Available, ", "))
}

// Is reports whether target is ErrModelNotFound.
func (e *ModelNotFoundError) Is(target error) bool { return target == ErrModelNotFound }
