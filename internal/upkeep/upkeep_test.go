package upkeep

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLoopRunsWhenDue(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	counts := map[string]int{}
	run := func(name string, err error) func(context.Context) error {
		return func(context.Context) error {
			mu.Lock()
			counts[name]++
			mu.Unlock()
			return err
		}
	}
	// The backup ran 2 hours ago (outside this process): not due at start.
	lastBackup := clk.now().Add(-2 * time.Hour)
	tasks := []Task{
		{Name: "backup", Every: 24 * time.Hour, Last: func() (time.Time, error) { return lastBackup, nil }, Run: run("backup", nil)},
		{Name: "compress", Every: 24 * time.Hour, Run: run("compress", nil)},
		{Name: "flaky", Every: time.Hour, Run: run("flaky", errors.New("disk full"))},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Loop(ctx, zerolog.Nop(), tasks, 5*time.Millisecond, clk.now); close(done) }()
	get := func(name string) int { mu.Lock(); defer mu.Unlock(); return counts[name] }
	wait := func(cond func() bool) {
		t.Helper()
		for i := 0; i < 400 && !cond(); i++ {
			time.Sleep(5 * time.Millisecond)
		}
		if !cond() {
			t.Fatalf("counts = %v", counts)
		}
	}
	wait(func() bool { return get("compress") == 1 && get("flaky") == 1 })
	time.Sleep(30 * time.Millisecond) // several ticks: nothing is due again yet
	if get("backup") != 0 || get("compress") != 1 || get("flaky") != 1 {
		t.Fatalf("ran before due: %v", counts)
	}
	clk.add(23 * time.Hour) // the backup is due (25 h), compress not (23 h), flaky retried (hourly)
	wait(func() bool { return get("backup") == 1 && get("flaky") == 2 })
	if get("compress") != 1 {
		t.Errorf("compress ran early: %v", counts)
	}
	clk.add(time.Hour)
	wait(func() bool { return get("compress") == 2 })
	cancel()
	<-done
}
