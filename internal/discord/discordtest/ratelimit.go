package discordtest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limit is a route bucket's allowance: Requests per Window, as Discord
// announces it in X-RateLimit-Limit and X-RateLimit-Reset-After.
type Limit struct {
	Requests int
	Window   time.Duration
}

// DefaultLimits are the fake's buckets, keyed by route (see routeKey). They
// are near what Discord gives a bot in a DM: five messages or five edits
// per five seconds a channel, one reaction per quarter second.
func DefaultLimits() map[string]Limit {
	return map[string]Limit{
		"POST /channels/{id}/messages":                      {5, 5 * time.Second},
		"PATCH /channels/{id}/messages/{m}":                 {5, 5 * time.Second},
		"DELETE /channels/{id}/messages/{m}":                {5, 5 * time.Second},
		"GET /channels/{id}/messages":                       {50, time.Second},
		"PUT /channels/{id}/messages/{m}/reactions/{e}/@me": {1, 250 * time.Millisecond},
		"POST /channels/{id}/typing":                        {5, 5 * time.Second},
	}
}

// bucket is one route's window for one major parameter (the channel).
type bucket struct {
	limit     Limit
	remaining int
	resetAt   time.Time
}

// limiter hands out requests per bucket and answers the rest with 429.
type limiter struct {
	mu      sync.Mutex
	limits  map[string]Limit
	buckets map[string]*bucket
	limited int
}

func newLimiter(limits map[string]Limit) *limiter {
	return &limiter{limits: limits, buckets: map[string]*bucket{}}
}

// take spends one request of route for major and writes the rate-limit
// headers; it returns false (and writes the 429) when the bucket is empty.
func (l *limiter) take(w http.ResponseWriter, route, major string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.limits[route]
	if !ok || lim.Requests <= 0 {
		return true
	}
	key := route + " " + major
	b := l.buckets[key]
	if b == nil || !now.Before(b.resetAt) {
		b = &bucket{limit: lim, remaining: lim.Requests, resetAt: now.Add(lim.Window)}
		l.buckets[key] = b
	}
	after := b.resetAt.Sub(now).Seconds()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(lim.Requests))
	h.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(b.resetAt.UnixMilli())/1000, 'f', 3, 64))
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", fmt.Sprintf("%08x", hash(route)))
	if b.remaining == 0 {
		l.limited++
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Scope", "user")
		h.Set("Retry-After", strconv.Itoa(int(after+0.999)))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"message": "You are being rate limited.", "retry_after": after, "global": false,
		})
		return false
	}
	b.remaining--
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.remaining))
	return true
}

func (l *limiter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limited
}

// hash is FNV-1a, enough to give each route a stable bucket name.
func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
