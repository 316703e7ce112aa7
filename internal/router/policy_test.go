package router

import (
	"errors"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	type step struct {
		at   time.Duration // since the start
		do   string        // "ok", "slow", "fail", "unreachable", "switch", "pin", "fits", "nofit", "check"
		want bool          // the decision the step returns
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"three failures switch away", []step{
			{0, "switch", false}, {40 * time.Second, "fail", false}, {41 * time.Second, "fail", false}, {42 * time.Second, "fail", true},
		}},
		{"a success resets the failure count", []step{
			{0, "switch", false}, {40 * time.Second, "fail", false}, {41 * time.Second, "fail", false}, {42 * time.Second, "ok", false}, {43 * time.Second, "fail", false},
		}},
		{"at most one switch per 30 s", []step{
			{0, "switch", false}, {time.Second, "fail", false}, {2 * time.Second, "fail", false}, {3 * time.Second, "fail", false},
			{29 * time.Second, "fail", false}, {30 * time.Second, "fail", true},
		}},
		{"unreachable switches at once", []step{{0, "switch", false}, {time.Second, "unreachable", true}}},
		{"two slow answers downgrade", []step{
			{0, "switch", false}, {time.Minute, "slow", false}, {time.Minute + time.Second, "slow", true},
		}},
		{"a fast answer in between resets", []step{
			{0, "switch", false}, {time.Minute, "slow", false}, {time.Minute, "ok", false}, {time.Minute, "slow", false},
		}},
		{"slow right after a switch waits for the interval", []step{
			{0, "switch", false}, {time.Second, "slow", false}, {2 * time.Second, "slow", false}, {31 * time.Second, "slow", true},
		}},
		{"upgrade after 5 minutes of headroom", []step{
			{0, "switch", false}, {time.Minute, "fits", false}, {3 * time.Minute, "fits", false}, {6*time.Minute - time.Second, "fits", false}, {6 * time.Minute, "fits", true},
		}},
		{"headroom must be continuous", []step{
			{0, "switch", false}, {time.Minute, "fits", false}, {4 * time.Minute, "nofit", false}, {5 * time.Minute, "fits", false}, {9 * time.Minute, "fits", false}, {10 * time.Minute, "fits", true},
		}},
		{"a failure restarts the wait", []step{
			{0, "switch", false}, {time.Minute, "fits", false}, {5 * time.Minute, "fail", false}, {6 * time.Minute, "fits", false}, {10 * time.Minute, "fits", false}, {11 * time.Minute, "fits", true},
		}},
		{"no upgrade from the owner's choice", []step{
			{0, "pin", false}, {time.Minute, "fits", false}, {time.Hour, "fits", false}, {time.Hour, "check", false},
		}},
		{"checks for upgrades at most every 30 s", []step{
			{0, "switch", false}, {time.Second, "check", true}, {20 * time.Second, "check", false}, {31 * time.Second, "check", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tracker{p: Policy{}.withDefaults()}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				var got bool
				switch s.do {
				case "switch", "pin":
					tr.switched(now, s.do == "pin")
				case "ok":
					got, _ = tr.answered(now, time.Second)
				case "slow":
					var reason string
					got, reason = tr.answered(now, 6*time.Second)
					if got && reason == "" {
						t.Errorf("step %d: downgrade without a reason", i)
					}
				case "fail", "unreachable":
					var reason string
					got, reason = tr.failed(now, s.do == "unreachable", errors.New("boom"))
					if got && reason == "" {
						t.Errorf("step %d: switch without a reason", i)
					}
				case "fits", "nofit":
					got = tr.headroom(now, s.do == "fits")
				case "check":
					got = tr.checkDue(now)
				}
				if got != s.want {
					t.Fatalf("step %d (%s at %s) = %v, want %v", i, s.do, s.at, got, s.want)
				}
			}
		})
	}
}
