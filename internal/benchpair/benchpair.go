// Package benchpair measures the sides of a paired benchmark — Mai's way
// and the strongest honest baseline doing the same work — in one run,
// alternating them call by call so that drift in a shared machine, a
// server or an engine favours neither, and reports each side's figures
// under the names tools/benchtable reads:
//
//	<side>-ns/op      median wall time of one call
//	<side>-p95-ns/op  95th percentile of the same
//	<side>-B/op       bytes allocated per call (mean; this process only)
//	<side>-allocs/op  allocations per call (mean; this process only)
//
// and ns/op, set to the first side's median, so the standard column is
// Mai's alone rather than the sum of both sides.
package benchpair

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// Side is one way of doing the benchmark's work.
type Side struct {
	// Name is the metric prefix: lower case, no spaces ("mai", "json", "moby").
	Name string
	// Call does the work once; an error fails the benchmark.
	Call func() error
	// Took, when set, replaces the call's wall time with what it returns:
	// the part of the call the row is about (time to the first token of
	// an answer read to its end), measured inside Call.
	Took func() time.Duration
	// Settle, when set, runs after each call outside the measured window:
	// waiting for background work the call set off (a pool refill) so that
	// it does not overlap the next measured call of either side.
	Settle func() error
}

// figures are one side's measurements.
type figures struct {
	times          []time.Duration
	bytes, mallocs uint64
}

// Run calls every side once per round, rotating which goes first, for at
// least minRounds rounds and at least b.N, then reports each side's
// figures. The first side is Mai's.
func Run(b *testing.B, minRounds int, sides ...Side) {
	b.Helper()
	if len(sides) < 2 {
		b.Fatal("benchpair: a paired benchmark needs at least two sides")
	}
	for _, s := range sides {
		if err := checkName(s.Name); err != nil {
			b.Fatal("benchpair: ", err)
		}
	}
	figs := make([]figures, len(sides))
	var ms runtime.MemStats
	b.ResetTimer()
	for round := 0; round < b.N || round < minRounds; round++ {
		for k := range sides {
			i := (round + k) % len(sides)
			s := sides[i]
			runtime.ReadMemStats(&ms)
			bytes, mallocs := ms.TotalAlloc, ms.Mallocs
			start := time.Now()
			err := s.Call()
			d := time.Since(start)
			runtime.ReadMemStats(&ms)
			if err != nil {
				b.Fatalf("%s: %v", s.Name, err)
			}
			if s.Took != nil {
				d = s.Took()
			}
			f := &figs[i]
			f.times = append(f.times, d)
			f.bytes += ms.TotalAlloc - bytes
			f.mallocs += ms.Mallocs - mallocs
			if s.Settle != nil {
				if err := s.Settle(); err != nil {
					b.Fatalf("%s: settle: %v", s.Name, err)
				}
			}
		}
	}
	b.StopTimer()
	for i, s := range sides {
		f := figs[i]
		n := float64(len(f.times))
		med := Percentile(f.times, 0.5)
		b.ReportMetric(float64(med.Nanoseconds()), s.Name+"-ns/op")
		b.ReportMetric(float64(Percentile(f.times, 0.95).Nanoseconds()), s.Name+"-p95-ns/op")
		b.ReportMetric(float64(f.bytes)/n, s.Name+"-B/op")
		b.ReportMetric(float64(f.mallocs)/n, s.Name+"-allocs/op")
		if i == 0 {
			b.ReportMetric(float64(med.Nanoseconds()), "ns/op")
		}
	}
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 1) of d, nearest rank.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p+0.5)]
}

// checkName accepts the side names benchtable can read back.
func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("a side has no name")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return fmt.Errorf("side name %q: use lower-case letters and digits only", s)
		}
	}
	return nil
}
