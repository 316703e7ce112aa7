// Package health keeps the daemon's view of its own components: whether
// each is up, degraded (working with less) or down, since when, and the
// last error it met. `mai status` reports it, and listeners (the owner's
// DM) hear each change of state.
package health

import (
	"sort"
	"sync"
	"time"
)

// State is a component's condition.
type State string

const (
	Starting State = "starting" // not yet ready
	Up       State = "up"       // working
	Degraded State = "degraded" // working with less (say what in Detail)
	Down     State = "down"     // not working; retried with backoff
	Off      State = "off"      // not configured; nothing to retry
)

// Component is one component's current report.
type Component struct {
	Name   string    `json:"name"`
	State  State     `json:"state"`
	Detail string    `json:"detail,omitempty"` // one sentence a user can act on
	Since  time.Time `json:"since"`            // when State last changed
	// LastError is the most recent failure, kept after recovery so status
	// can show it; LastErrorAt is zero when there has been none.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Change is a component's move from one state to another.
type Change struct {
	Component
	From State `json:"from"`
}

// ErrorReport is one of the last errors: a component's failure, with how
// many times in a row it failed the same way and when last.
type ErrorReport struct {
	Component string    `json:"component"`
	Error     string    `json:"error"`
	At        time.Time `json:"at"`
	Count     int       `json:"count"`
}

// keptErrors is how many of the last errors the registry keeps.
const keptErrors = 10

// Listener hears every change of state, in order, outside the registry's
// lock; it must not block for long.
type Listener func(Change)

// Registry holds every component's report. The zero value is not usable;
// call New.
type Registry struct {
	now func() time.Time

	mu        sync.Mutex
	comps     map[string]Component
	listeners []Listener
	started   time.Time
	errs      []ErrorReport // oldest first, at most keptErrors
}

// New returns an empty registry; now is the clock (time.Now when nil).
func New(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, comps: map[string]Component{}, started: now()}
}

// Listen adds l to the listeners told about later changes.
func (r *Registry) Listen(l Listener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, l)
}

// Set records name's state and detail; a non-nil err is kept as its last
// error. Listeners hear it when the state changed (not when only the detail
// did), including the first report of a component.
func (r *Registry) Set(name string, st State, detail string, err error) {
	r.mu.Lock()
	now := r.now()
	old, known := r.comps[name]
	c := old
	c.Name, c.State, c.Detail = name, st, detail
	if !known || old.State != st {
		c.Since = now
	}
	if err != nil {
		c.LastError, c.LastErrorAt = err.Error(), now
		r.noteError(name, c.LastError, now)
	}
	r.comps[name] = c
	var ls []Listener
	if !known || old.State != st {
		ls = append(ls, r.listeners...)
	}
	r.mu.Unlock()
	from := old.State
	for _, l := range ls {
		l(Change{Component: c, From: from})
	}
}

// noteError adds an error to the last ones; a repeat of the newest (a
// component retried with backoff) counts there instead of pushing the
// others out.
func (r *Registry) noteError(name, msg string, at time.Time) {
	if n := len(r.errs); n > 0 && r.errs[n-1].Component == name && r.errs[n-1].Error == msg {
		r.errs[n-1].At = at
		r.errs[n-1].Count++
		return
	}
	r.errs = append(r.errs, ErrorReport{Component: name, Error: msg, At: at, Count: 1})
	if len(r.errs) > keptErrors {
		r.errs = r.errs[len(r.errs)-keptErrors:]
	}
}

// LastErrors returns up to n of the last errors, newest first.
func (r *Registry) LastErrors(n int) []ErrorReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ErrorReport, 0, min(n, len(r.errs)))
	for i := len(r.errs) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, r.errs[i])
	}
	return out
}

// Get returns name's report and whether it has one.
func (r *Registry) Get(name string) (Component, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.comps[name]
	return c, ok
}

// Snapshot returns every component's report, sorted by name.
func (r *Registry) Snapshot() []Component {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Component, 0, len(r.comps))
	for _, c := range r.comps {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Uptime is the time since New.
func (r *Registry) Uptime() time.Duration { return r.now().Sub(r.started) }
