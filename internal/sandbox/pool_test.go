package sandbox

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// instanceObjects counts the containers a Sandbox's instance has on the
// engine, and among them the running job containers: with no job running,
// the pool's idle ones.
func instanceObjects(t testing.TB, cli *client.Client, s *Sandbox) (idle, total int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := make(client.Filters).Add("label", LabelInstance+"="+s.exec.instance)
	l, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, c := range l.Items {
		if c.Labels[LabelRole] == "job" && c.State == "running" {
			idle++
		}
	}
	return idle, len(l.Items)
}

// waitFor polls cond for up to a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func idleCount(s *Sandbox, p prepared) int {
	pl := s.exec.pool
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.idle[keyOf(p)])
}

func TestPool(t *testing.T) {
	cli := rawClient(t)
	newTestSandbox(t, Options{}) // checks the engine and images
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := New(ctx, Options{Image: pythonImage(), PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	waitFor(t, "two pre-started containers", func() bool { c, _ := instanceObjects(t, cli, s); return c == 2 })

	staged := map[string]bool{}
	s.exec.pool.mu.Lock()
	for _, w := range s.exec.pool.idle[keyOf(mustPrepare(t, s, lowSample))] {
		staged[w.id] = true
	}
	s.exec.pool.mu.Unlock()
	for i := range 4 {
		res, err := s.Run(ctx, Job{Language: "python", Files: map[string][]byte{"main.py": []byte(
			"import os\nprint(os.getuid(), os.statvfs('/').f_flag & os.ST_RDONLY)\n")}})
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if res.Stdout != "65534 1\n" {
			t.Errorf("job %d in a pooled container printed %q (stderr %q)", i, res.Stdout, res.Stderr)
		}
		if i == 0 && !staged[res.JobID] {
			t.Errorf("the first job %s did not use a pre-staged container %v", res.JobID, staged)
		}
		assertNoLeftovers(t, cli, res.JobID)
	}

	// A refused job gives its staged container back.
	p := mustPrepare(t, s, highSample)
	waitFor(t, "the pool to refill", func() bool { return idleCount(s, p) == 2 })
	if _, err := s.Run(ctx, highSample); !errors.Is(err, ErrRefused) {
		t.Fatalf("HIGH job without approver: %v", err)
	}
	if n := idleCount(s, p); n != 2 {
		t.Errorf("after a refusal the pool has %d idle, want 2", n)
	}

	// A job with its own id or entry does not use the pool, and still runs.
	res, err := s.Run(ctx, Job{ID: "own-id-" + newJobID(), Language: "python", Files: map[string][]byte{"run.py": []byte("print('own')")}})
	if err != nil || res.Stdout != "own\n" {
		t.Errorf("job with its own id: %v %+v", err, res)
	}

	// Pooled containers that died while idle are replaced by a fresh one.
	waitFor(t, "the pool to refill", func() bool { return idleCount(s, p) == 2 })
	s.exec.pool.mu.Lock()
	var idle []string
	for _, w := range s.exec.pool.idle[keyOf(p)] {
		idle = append(idle, w.st.container)
	}
	s.exec.pool.mu.Unlock()
	for _, id := range idle {
		if _, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = s.Run(ctx, lowSample)
	if err != nil || res.Stdout != "45\n" || slices.Contains(idle, res.ContainerID) {
		t.Errorf("job after the idle containers died: %v %+v", err, res)
	}
	waitFor(t, "the pool to replace the dead", func() bool { c, _ := instanceObjects(t, cli, s); return c == 2 && idleCount(s, p) == 2 })

	// Cleanup leaves idle pool containers alone; Close removes them.
	if _, _, err := s.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := instanceObjects(t, cli, s); c != 2 {
		t.Errorf("cleanup removed idle pool containers: %d left of 2", c)
	}
	s.Close()
	closed = true
	if _, n := instanceObjects(t, cli, s); n != 0 {
		t.Errorf("%d containers left after Close", n)
	}
	vl, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", LabelInstance+"="+s.exec.instance)})
	if err != nil || len(vl.Items) != 0 {
		t.Errorf("volumes left after Close: %v %v", vl.Items, err)
	}
}

func mustPrepare(t testing.TB, s *Sandbox, job Job) prepared {
	t.Helper()
	p, err := s.exec.prepare(job)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
