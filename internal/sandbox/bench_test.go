package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/benchpair"
	"github.com/maicompanion/mai/internal/testenv"
)

const helloPy = `print("hello")`

// minSamples is the fewest calls of each side per run; make bench runs
// each benchmark 5 times.
const minSamples = 3

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

func dockerCLI(b *testing.B) string {
	b.Helper()
	docker, err := exec.LookPath("docker")
	if err != nil {
		testenv.Missing(b, "docker CLI", "not in PATH", "install docker.io (.ci/docker.sh does)")
	}
	return docker
}

// mobyRun runs the same hello world as the sandbox's job, with the same
// Docker API calls made directly through the moby client in this process:
// create, attach, start, wait, remove. The container has exactly the
// settings of Mai's job container (hostConfig and config: limits,
// read-only root, no capabilities, no network, user 65534, the tmpfs
// mounts, labels); what differs is what the sandbox adds on top: the code
// reaches it in argv instead of through a volume and a helper, and nothing
// waits for a go line or inspects the exit.
type mobyRun struct {
	cli *client.Client
	cfg *container.Config
	hc  *container.HostConfig
}

func newMobyRun(b *testing.B, s *Sandbox) mobyRun {
	p, err := s.exec.prepare(pyJob(helloPy))
	if err != nil {
		b.Fatal(err)
	}
	cfg := s.exec.config(p)
	cfg.Cmd = []string{"python3", "-c", helloPy}
	cfg.AttachStdin, cfg.OpenStdin, cfg.StdinOnce = false, false, false
	hc := s.exec.hostConfig(p, "")
	hc.Mounts = nil
	return mobyRun{cli: rawClient(b), cfg: cfg, hc: hc}
}

func (m mobyRun) run() (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := m.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "mai-bench-" + newJobID(), Config: m.cfg, HostConfig: m.hc})
	if err != nil {
		return err
	}
	defer func() {
		_, rerr := m.cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
		err = errors.Join(err, rerr)
	}()
	att, err := m.cli.ContainerAttach(ctx, created.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	defer att.Close()
	wait := m.cli.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := m.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return err
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, att.Reader); err != nil {
		return err
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 || out.String() != "hello\n" {
			return fmt.Errorf("moby run: exit %d, stdout %q, stderr %q", r.StatusCode, out.String(), errOut.String())
		}
	case err := <-wait.Error:
		return err
	}
	return nil
}

// poolSettled waits until the pool has staged all its containers again, so
// that no refill overlaps the next measured call.
func poolSettled(s *Sandbox) func() error {
	return func() error {
		pl := s.exec.pool
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			pl.mu.Lock()
			filling, idle := 0, 0
			for k, n := range pl.filling {
				filling += n
				idle += len(pl.idle[k])
			}
			pl.mu.Unlock()
			if filling == 0 && idle >= pl.size {
				return nil
			}
		}
		return errors.New("the pool did not refill within a minute")
	}
}

// BenchmarkHelloVsDockerRun alternates a gated, hardened Sandbox.Run of a
// Python hello world (mai) with the same container run through the moby
// client directly (moby) and, as a second labelled baseline, a plain
// 'docker run --rm' of the image without any hardening (cli): without the
// warm pool, and with a pool of 2 whose refills happen between the
// measured calls.
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
	moby := newMobyRun(b, s)
	mai := benchpair.Side{Name: "mai", Call: func() error { return sandboxRun(s) }}
	if poolSize > 0 {
		mai.Settle = poolSettled(s)
	}
	// Warm every path once (and fill the pool) before measuring.
	if err := errors.Join(sandboxRun(s), moby.run(), plainDockerRun(docker)); err != nil {
		b.Fatal(err)
	}
	if mai.Settle != nil {
		if err := mai.Settle(); err != nil {
			b.Fatal(err)
		}
	}
	benchpair.Run(b, minSamples, mai,
		benchpair.Side{Name: "moby", Call: moby.run},
		benchpair.Side{Name: "cli", Call: func() error { return plainDockerRun(docker) }})
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
	for ; batches < b.N || batches < 1; batches++ {
		mai += batch(func() error { return sandboxRun(s) })
		plain += batch(func() error { return plainDockerRun(docker) })
	}
	rate := func(d time.Duration) float64 { return float64(n*batches) / d.Seconds() }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rate(mai), "mai-jobs/s")
	b.ReportMetric(rate(plain), "docker-jobs/s")
	b.ReportMetric(rate(mai)/rate(plain), "ratio")
}
