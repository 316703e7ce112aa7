package upkeep

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// syncBuffer is a log sink the loop and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestBacklogLogsAFailureOnce: the same failure pass after pass is logged
// once, a recovery and the work done are logged, and the loop ends with
// its context.
func TestBacklogLogsAFailureOnce(t *testing.T) {
	var out syncBuffer
	log := zerolog.New(&out)
	ctx, cancel := context.WithCancel(context.Background())
	results := []struct {
		n   int
		err error
	}{{0, errors.New("no embedding model")}, {0, errors.New("no embedding model")}, {0, errors.New("no embedding model")}, {5, nil}, {0, nil}}
	calls := 0
	done := make(chan struct{})
	b := Backlog{Name: "embed", Every: time.Millisecond, MaxWait: 4 * time.Millisecond, Run: func(context.Context) (int, error) {
		r := results[min(calls, len(results)-1)]
		if calls++; calls == len(results)+2 {
			cancel()
		}
		return r.n, r.err
	}}
	go func() { b.Work(ctx, log); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Work did not end with its context")
	}
	got := out.String()
	if strings.Count(got, "no embedding model") != 1 || strings.Count(got, "recovered") != 1 || strings.Count(got, `"done":5`) != 1 {
		t.Errorf("log:\n%s", got)
	}
}
