package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/testenv"
)

const helloPy = `print("hello")`

// minSamples is the fewest runs a latency percentile is computed from.
const minSamples = 15

// plainDockerRun runs the same hello world with the docker CLI and nothing
// else: the obvious alternative the sandbox is measured against.
func plainDockerRun(docker string) error {
	out, err := exec.Command(docker, "run", "--rm", pythonImage(), "python3", "-c", helloPy).Output()
	if err != nil || string(out) != "hello\n" {
		return fmt.Errorf("docker run: %v: %s", err, out)
	}
	return nil
}

func sandboxRun(s *Sandbox) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := s.Run(ctx, pyJob(helloPy))
	if err != nil || res.Stdout != "hello\n" {
		return fmt.Errorf("sandbox run: %v: %+v", err, res)
	}
	return nil
}

// timed runs f and appends its duration to d.
func timed(b *testing.B, d *[]time.Duration, f func() error) {
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	*d = append(*d, time.Since(start))
}

func dockerCLI(b *testing.B) string {
	b.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		testenv.Missing(b, "docker CLI", "not in PATH", "install docker.io (.ci/docker.sh does)")
	}
	return docker
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return float64(s[i].Microseconds()) / 1000
}

// BenchmarkHelloVsDockerRun alternates a gated, hardened Sandbox.Run of a
// Python hello world with a plain 'docker run --rm' of the same image, and
// reports both latencies' p50 and p95 and the ratio of the medians: without
// the warm pool, and with a pool of 2.
func BenchmarkHelloVsDockerRun(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchHello(b, 0) })
	b.Run("pool", func(b *testing.B) { benchHello(b, 2) })
}

func benchHello(b *testing.B, poolSize int) {
	newTestSandbox(b, Options{}) // checks the engine and images
	s, err := New(context.Background(), Options{Image: pythonImage(), PoolSize: poolSize})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	docker := dockerCLI(b)
	if err := errors.Join(sandboxRun(s), plainDockerRun(docker)); err != nil { // warm both paths once
		b.Fatal(err)
	}
	var mai, plain []time.Duration
	// At least minSamples pairs, whatever -benchtime allows, so the
	// percentiles mean something.
	for i := 0; i < b.N || i < minSamples; i++ {
		// Alternate the order so neither side always runs on a warmer engine.
		runs := []func(){
			func() { timed(b, &mai, func() error { return sandboxRun(s) }) },
			func() { timed(b, &plain, func() error { return plainDockerRun(docker) }) },
		}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		runs[0]()
		runs[1]()
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(percentile(mai, 0.5), "mai-p50-ms")
	b.ReportMetric(percentile(mai, 0.95), "mai-p95-ms")
	b.ReportMetric(percentile(plain, 0.5), "docker-p50-ms")
	b.ReportMetric(percentile(plain, 0.95), "docker-p95-ms")
	b.ReportMetric(percentile(mai, 0.5)/percentile(plain, 0.5), "ratio-p50")
}

// BenchmarkConcurrent20 runs 20 hello worlds at once through the sandbox
// and then through plain 'docker run', and reports jobs per second of each
// and their ratio.
func BenchmarkConcurrent20(b *testing.B) {
	s := newTestSandbox(b, Options{})
	docker := dockerCLI(b)
	const n = 20
	batch := func(run func() error) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = run() }()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var mai, plain time.Duration
	batches := 0
	for ; batches < b.N || batches < 2; batches++ {
		mai += batch(func() error { return sandboxRun(s) })
		plain += batch(func() error { return plainDockerRun(docker) })
	}
	rate := func(d time.Duration) float64 { return float64(n*batches) / d.Seconds() }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rate(mai), "mai-jobs/s")
	b.ReportMetric(rate(plain), "docker-jobs/s")
	b.ReportMetric(rate(mai)/rate(plain), "ratio")
}
