// Package doctor checks each of Mai's integrations and says how to fix what
// fails. Checks run concurrently, each under a short timeout, so the whole
// report takes about as long as the slowest check's timeout.
package doctor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Status is a check's outcome.
type Status string

const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Result is one line of the report.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Check is one named probe. Run must return when ctx is done.
type Check struct {
	Name string
	Run  func(ctx context.Context) Result
}

// Run runs every check concurrently, each with its own timeout, and
// returns the results in the order of checks. A check that overruns its
// timeout is reported as a failure of that check, not waited for.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Result {
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			done := make(chan Result, 1)
			go func() { done <- c.Run(cctx) }()
			select {
			case r := <-done:
				r.Name = c.Name
				results[i] = r
			case <-cctx.Done():
				results[i] = Result{Name: c.Name, Status: Fail,
					Detail: fmt.Sprintf("no answer within %s", timeout),
					Fix:    "check that the service is running and not overloaded"}
			}
		}()
	}
	wg.Wait()
	return results
}

// Failed reports whether any result is a FAIL.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}
