package router

import (
	"fmt"
	"time"
)

// Policy sets when the router switches model by itself.
type Policy struct {
	// FailureLimit consecutive failures of the active model switch away from
	// it (default 3). An unreachable backend is switched away from at once.
	FailureLimit int
	// LatencyBudget is the longest acceptable wait for the first token, model
	// loading excluded (default 5 s).
	LatencyBudget time.Duration
	// SlowLimit consecutive answers over the budget downgrade to a smaller
	// model (default 2: one slow answer may be a long prompt).
	SlowLimit int
	// UpgradeAfter is how long a better model must have fitted, without
	// failures or slow answers, before the router moves up to it (default 5 min).
	UpgradeAfter time.Duration
	// MinInterval is the least time between two automatic switches (default
	// 30 s); the owner's requests and unreachable backends are not held back.
	MinInterval time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.FailureLimit <= 0 {
		p.FailureLimit = 3
	}
	if p.LatencyBudget <= 0 {
		p.LatencyBudget = 5 * time.Second
	}
	if p.SlowLimit <= 0 {
		p.SlowLimit = 2
	}
	if p.UpgradeAfter <= 0 {
		p.UpgradeAfter = 5 * time.Minute
	}
	if p.MinInterval <= 0 {
		p.MinInterval = 30 * time.Second
	}
	return p
}

// Cause says why a switch happened.
type Cause string

// The causes of a switch.
const (
	CauseInitial Cause = "initial" // the first choice after start
	CauseRequest Cause = "request" // the owner asked
	CauseFailure Cause = "failure" // the backend failed
	CauseLatency Cause = "latency" // answers were too slow: downgrade
	CauseUpgrade Cause = "upgrade" // a better model fits again
	CauseTools   Cause = "tools"   // a request carried tools the active model does not take
	CauseVision  Cause = "vision"  // a request carried an image the active model cannot see
)

// tracker applies a Policy to what happens to the active model. It is a
// plain value driven by the router under its lock, with the time passed in,
// so that its decisions are tested without clocks or servers.
type tracker struct {
	p             Policy
	lastSwitch    time.Time
	lastCheck     time.Time // last look for a better model
	failures      int
	slow          int
	headroomSince time.Time // when a better model started to fit; zero if none does
	pinned        bool      // the owner chose the model: no automatic upgrade
}

func (t *tracker) canSwitch(now time.Time) bool {
	return t.lastSwitch.IsZero() || now.Sub(t.lastSwitch) >= t.p.MinInterval
}

// switched records a switch made now.
func (t *tracker) switched(now time.Time, pinned bool) {
	t.lastSwitch, t.failures, t.slow, t.headroomSince, t.pinned = now, 0, 0, time.Time{}, pinned
}

// answered records an answer of the active model whose first token took
// latency (loading excluded) and reports whether to downgrade, and why.
func (t *tracker) answered(now time.Time, latency time.Duration) (downgrade bool, reason string) {
	t.failures = 0
	if latency <= t.p.LatencyBudget {
		t.slow = 0
		return false, ""
	}
	t.slow++
	t.headroomSince = time.Time{}
	if t.slow < t.p.SlowLimit || !t.canSwitch(now) {
		return false, ""
	}
	return true, fmt.Sprintf("%d answers in a row took longer than %s to start (last %s)",
		t.slow, t.p.LatencyBudget, latency.Round(time.Millisecond))
}

// failed records a failure of the active model and reports whether to
// switch away from it, and why.
func (t *tracker) failed(now time.Time, unreachable bool, err error) (away bool, reason string) {
	t.failures++
	t.headroomSince = time.Time{}
	if unreachable {
		return true, fmt.Sprintf("backend not reachable: %v", err)
	}
	if t.failures < t.p.FailureLimit || !t.canSwitch(now) {
		return false, ""
	}
	return true, fmt.Sprintf("%d failures in a row, last: %v", t.failures, err)
}

// checkDue reports whether it is time to look for a better model, and
// notes the look.
func (t *tracker) checkDue(now time.Time) bool {
	if t.pinned || (!t.lastCheck.IsZero() && now.Sub(t.lastCheck) < t.p.MinInterval) {
		return false
	}
	t.lastCheck = now
	return true
}

// headroom records whether a better model fits now and reports whether it
// has fitted long enough to upgrade.
func (t *tracker) headroom(now time.Time, betterFits bool) bool {
	if t.pinned || !betterFits {
		t.headroomSince = time.Time{}
		return false
	}
	if t.headroomSince.IsZero() {
		t.headroomSince = now
	}
	return now.Sub(t.headroomSince) >= t.p.UpgradeAfter && t.canSwitch(now)
}
