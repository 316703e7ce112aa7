package benchpair

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	d := []time.Duration{9, 1, 5, 3, 7}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {0.5, 5}, {0.95, 9}, {1, 9}} {
		if got := Percentile(d, tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty input")
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{"mai": true, "moby2": true, "": false, "docker-cli": false, "Mai": false} {
		if err := checkName(name); (err == nil) != ok {
			t.Errorf("checkName(%q) = %v", name, err)
		}
	}
}

// TestRunSeparatesSides checks that Run
// tells a side that allocates from one that does not, and a slow side from
// a fast one, so the sides' columns mean what they say.
func TestRunSeparatesSides(t *testing.T) {
	var sink []byte
	res := testing.Benchmark(func(b *testing.B) {
		Run(b, 20,
			Side{Name: "alloc", Call: func() error { sink = make([]byte, 4096); time.Sleep(2 * time.Millisecond); return nil }},
			Side{Name: "none", Call: func() error { return nil }},
		)
	})
	_ = sink
	if res.Extra["alloc-B/op"] < 4096 || res.Extra["none-B/op"] > 64 {
		t.Errorf("bytes per call: alloc %v, none %v", res.Extra["alloc-B/op"], res.Extra["none-B/op"])
	}
	if res.Extra["alloc-allocs/op"] < 1 || res.Extra["none-allocs/op"] >= 1 {
		t.Errorf("allocations per call: alloc %v, none %v", res.Extra["alloc-allocs/op"], res.Extra["none-allocs/op"])
	}
	if res.Extra["alloc-ns/op"] < 2e6 || res.Extra["none-ns/op"] > 1e6 {
		t.Errorf("median times: alloc %v ns, none %v ns", res.Extra["alloc-ns/op"], res.Extra["none-ns/op"])
	}
}
