package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestRunHelloStdinExitCodes(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	tests := []struct {
		name       string
		job        Job
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "python hello", job: pyJob(`print("hello from python")`), wantStdout: "hello from python\n"},
		{name: "sh hello", job: shJob(`echo hello from sh`), wantStdout: "hello from sh\n"},
		{name: "python stdin", job: pyJob("import sys\nprint(sys.stdin.read().upper(), end='')"), stdin: "abc\ndef\n", wantStdout: "ABC\nDEF\n"},
		{name: "sh stdin", job: shJob(`while read l; do echo "got $l"; done`), stdin: "x\ny\n", wantStdout: "got x\ngot y\n"},
		{name: "no stdin gives EOF", job: pyJob("import sys\nprint(len(sys.stdin.read()))"), wantStdout: "0\n"},
		{name: "sh exit code", job: shJob("echo out; echo err >&2; exit 3"), wantCode: 3, wantStdout: "out\n", wantStderr: "err\n"},
		{name: "python sys.exit", job: pyJob("import sys\nsys.exit(7)"), wantCode: 7},
		{name: "python exception", job: pyJob("raise ValueError('boom')"), wantCode: 1, wantStderr: "ValueError: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job.Stdin = []byte(tt.stdin)
			res := runRaw(t, s, tt.job)
			if res.ExitCode != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", res.ExitCode, tt.wantCode, res.Stderr)
			}
			if res.Stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", res.Stdout, tt.wantStdout)
			}
			if !strings.Contains(res.Stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", res.Stderr, tt.wantStderr)
			}
			if res.TimedOut || res.OOMKilled || res.Truncated || res.Killed {
				t.Errorf("flags set on a normal run: %+v", res)
			}
			if res.ContainerID == "" || res.Image != tt.job.Image || res.Duration <= 0 {
				t.Errorf("result misses container id, image or duration: %+v", res)
			}
			assertNoLeftovers(t, cli, res.JobID)
		})
	}
}

func TestRunSeveralFiles(t *testing.T) {
	s := newTestSandbox(t, Options{})
	job := Job{Language: "python", Image: pythonImage(), Entry: "app/main.py", Files: map[string][]byte{
		"app/main.py":     []byte("import helper\nprint(helper.greet(open('/code/data/name.txt').read().strip()))"),
		"app/helper.py":   []byte("def greet(n):\n    return 'hi ' + n\n"),
		"data/name.txt":   []byte("mai\n"),
		"unused/other.sh": []byte("echo never\n"),
	}}
	res := runRaw(t, s, job)
	if res.ExitCode != 0 || res.Stdout != "hi mai\n" {
		t.Fatalf("exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

func TestTimeoutKills(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	tests := []struct {
		name string
		job  Job
	}{
		{"python busy loop", pyJob("while True:\n    pass")},
		{"sh sleep", shJob("echo started; sleep 100")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job.Limits.WallTime = time.Second
			res := runRaw(t, s, tt.job)
			if !res.TimedOut {
				t.Fatalf("timed_out = false: %+v", res)
			}
			if res.Killed || res.OOMKilled {
				t.Errorf("a timeout is reported as killed or OOM: %+v", res)
			}
			if res.Duration > 20*time.Second {
				t.Errorf("the job ran %s past a 1 s wall time", res.Duration)
			}
			assertNoLeftovers(t, cli, res.JobID)
		})
	}
}

func TestMemoryHogIsOOMKilled(t *testing.T) {
	s := newTestSandbox(t, Options{})
	job := pyJob("b = bytearray(b'x') * (512 << 20)\nprint('allocated', len(b))")
	job.Limits.MemoryBytes = 64 << 20
	res := runRaw(t, s, job)
	if !res.OOMKilled {
		t.Fatalf("oom_killed = false: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if strings.Contains(res.Stdout, "allocated") || res.ExitCode == 0 {
		t.Errorf("the hog finished: %+v", res)
	}
	if res.Killed {
		t.Errorf("an OOM kill is reported as killed from outside")
	}
}

func TestPIDsLimitBoundsForks(t *testing.T) {
	s := newTestSandbox(t, Options{})
	// Count how many children the job can hold at once.
	job := pyJob(`import os, time
n = 0
try:
    while n < 500:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print(n, e.strerror)
`)
	job.Limits.PIDs = 20
	job.Limits.WallTime = 20 * time.Second
	res := runRaw(t, s, job)
	var n int
	var reason string
	if _, err := fmt.Sscanf(res.Stdout, "%d %s", &n, &reason); err != nil {
		t.Fatalf("job printed %q (stderr %q): %v", res.Stdout, res.Stderr, err)
	}
	if n >= 20 {
		t.Errorf("forked %d children under a PIDs limit of 20", n)
	}
}

func TestForkBombIsContained(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	job := shJob("bomb() { bomb | bomb & }; bomb; sleep 100")
	job.Limits.PIDs = 32
	job.Limits.WallTime = 3 * time.Second
	done := make(chan Result, 1)
	go func() { done <- runRaw(t, s, job) }()
	// The host keeps answering while the bomb runs.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		start := time.Now()
		if out, err := exec.Command("sh", "-c", "echo alive").Output(); err != nil || string(out) != "alive\n" {
			t.Fatalf("host command failed during the fork bomb: %v %q", err, out)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("host command took %s during the fork bomb", d)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var res Result
	select {
	case res = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the fork bomb job did not end")
	}
	if !res.TimedOut && res.ExitCode == 0 {
		t.Errorf("the fork bomb ended normally: %+v", res)
	}
	assertNoLeftovers(t, cli, res.JobID)
}

func TestOutputFloodIsTruncated(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	tests := []struct {
		name string
		job  Job
	}{
		{"stdout flood", shJob("yes flood")},
		{"stderr flood", shJob("yes flood >&2")},
		{"python flood", pyJob("while True:\n    print('x' * 1000)")},
	}
	const limit = 64 << 10
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job.Limits.OutputBytes = limit
			tt.job.Limits.WallTime = 20 * time.Second
			res := runRaw(t, s, tt.job)
			if !res.Truncated {
				t.Fatalf("truncated = false: %d+%d bytes", len(res.Stdout), len(res.Stderr))
			}
			if got := len(res.Stdout) + len(res.Stderr); got != limit {
				t.Errorf("kept %d bytes of output, want the cap %d", got, limit)
			}
			if res.TimedOut {
				t.Errorf("a flood ran to its wall time instead of being stopped at the cap")
			}
			assertNoLeftovers(t, cli, res.JobID)
		})
	}
}

func TestHardening(t *testing.T) {
	s := newTestSandbox(t, Options{})
	tests := []struct {
		name  string
		job   Job
		want  []string // lines the job must print
		limit Limits
	}{
		{
			name: "network unreachable",
			job: pyJob(`import os, socket
print("interfaces", sorted(os.listdir("/sys/class/net")))
for host in ("10.0.0.1", "1.1.1.1"):
    try:
        socket.create_connection((host, 80), timeout=3)
        print("connected", host)
    except OSError as e:
        print("unreachable", host, e.errno)
`),
			want: []string{"interfaces ['lo']", "unreachable 10.0.0.1 101", "unreachable 1.1.1.1 101"},
		},
		{
			name: "root filesystem read-only, code read-only, tmp writable",
			job: shJob(`touch /evil 2>/dev/null && echo root writable || echo root read-only
touch /code/evil 2>/dev/null && echo code writable || echo code read-only
echo hi > /tmp/a && cat /tmp/a
echo wd > ./b && cat ./b && pwd`),
			want: []string{"root read-only", "code read-only", "hi", "wd", "/work"},
		},
		{
			name:  "tmp is size-capped",
			job:   shJob(`dd if=/dev/zero of=/tmp/big bs=1M count=64 2>/dev/null && echo filled || echo tmp full; ls -l /tmp/big | awk '{print ($5 <= 8388608) ? "capped" : "over"}'`),
			limit: Limits{ScratchBytes: 8 << 20},
			want:  []string{"tmp full", "capped"},
		},
		{
			name: "not root, no capabilities, no new privileges, seccomp",
			job:  shJob(`id -u; id -g; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' ' '`),
			want: []string{"65534", "CapPrm: 0000000000000000", "CapEff: 0000000000000000",
				"CapBnd: 0000000000000000", "NoNewPrivs: 1", "Seccomp: 2"},
		},
		{
			name: "ulimits",
			job:  shJob(`echo nofile $(ulimit -n); echo nproc $(ulimit -u)`),
			want: []string{"nofile 256", "nproc 512"},
		},
		{
			name: "memory without swap, one cpu",
			job:  shJob(`cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo 268435456; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null`),
			want: []string{"268435456", "100000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job.Limits = tt.limit
			res := runRaw(t, s, tt.job)
			lines := map[string]bool{}
			for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
				lines[strings.TrimSpace(l)] = true
			}
			for _, w := range tt.want {
				if !lines[w] && !strings.Contains(res.Stdout, w) {
					t.Errorf("missing %q in output:\n%s\nstderr: %s", w, res.Stdout, res.Stderr)
				}
			}
		})
	}
}

func TestConcurrentJobsLeaveNothingBehind(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	const n = 20
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job := shJob(fmt.Sprintf("echo job %d", i))
			p, err := s.exec.prepare(job)
			if err != nil {
				errs[i] = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			results[i], errs[i] = s.exec.run(ctx, p)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("job %d: %v", i, errs[i])
			continue
		}
		if want := fmt.Sprintf("job %d\n", i); results[i].Stdout != want {
			t.Errorf("job %d printed %q, want %q", i, results[i].Stdout, want)
		}
		assertNoLeftovers(t, cli, results[i].JobID)
	}
}

func TestCancelledJobIsRemoved(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	p, err := s.exec.prepare(shJob("sleep 100"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = s.exec.run(ctx, p)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	assertNoLeftovers(t, cli, p.job.ID)
}

func TestKilledFromOutside(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	job := shJob("echo started; sleep 100")
	job.ID = "killed-" + newJobID()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		whenRunning(ctx, cli, job.ID, "sleep 100", func(id string) {
			_, _ = cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
		})
	}()
	res := runRaw(t, s, job)
	if !res.Killed || res.ExitCode != 137 || res.TimedOut || res.OOMKilled {
		t.Fatalf("want killed with exit 137, got %+v", res)
	}
	if res.Stdout != "started\n" {
		t.Errorf("stdout before the kill = %q", res.Stdout)
	}
	assertNoLeftovers(t, cli, job.ID)
}

func TestCleanupRemovesOnlyOrphans(t *testing.T) {
	s := newTestSandbox(t, Options{})
	cli := rawClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A dead pid: a process that has exited and been reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// A live pid other than ours.
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })

	crashed := leftoverJob(t, s, dead.Process.Pid)
	running := leftoverJob(t, s, live.Process.Pid)
	t.Cleanup(func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.exec.remove(rctx, running.removal)
	})

	nc, nv, err := s.Cleanup(ctx)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	// Another process's Cleanup (a concurrent `mai sandbox run` in another
	// test package shares this dockerd) may have removed the crashed job
	// first, so what this call counted is only logged; the check that
	// counts is that nothing of the crashed job is left.
	t.Logf("this cleanup removed %d containers and %d volumes", nc, nv)
	if c, v := leftovers(t, cli, crashed.jobID); c+v != 0 {
		t.Errorf("the crashed job's %d containers and %d volumes are still there", c, v)
	}
	if c, v := leftovers(t, cli, running.jobID); c != 1 || v != 1 {
		t.Errorf("cleanup touched a live process's job: %d containers, %d volumes left of 1 and 1", c, v)
	}
}

// leftoverJob creates the files volume and the job container of a job as if
// the process with pid had crashed after creating them, and returns them.
func leftoverJob(t *testing.T, s *Sandbox, pid int) removalWithID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := &executor{cli: s.exec.cli, image: s.exec.image, limits: s.exec.limits, host: s.exec.host,
		pid: pid, instance: newJobID(), inflight: map[string]bool{}}
	p, err := e.prepare(shJob("sleep 100"))
	if err != nil {
		t.Fatal(err)
	}
	var rm removal
	st, err := e.stage(ctx, p, &rm)
	if err != nil {
		t.Fatalf("stage: %v", err)
	}
	if err := e.copyFiles(ctx, p, st, &rm); err != nil {
		t.Fatalf("copy files: %v", err)
	}
	if _, err := e.cli.ContainerStart(ctx, st.container, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	return removalWithID{removal: rm, jobID: p.job.ID}
}

type removalWithID struct {
	removal
	jobID string
}

// TestExecScratchOnlyForTrustedImages: a trusted image's job that asks for
// it may run a program written to its scratch space, still as a non-root
// user without network; the same job without the flag cannot, and an image
// not in ExecImages is refused the flag, through the gate as well.
func TestExecScratchOnlyForTrustedImages(t *testing.T) {
	s := newTestSandbox(t, Options{ExecImages: []string{shellImage()}})
	script := "cp /bin/busybox /tmp/busybox && /tmp/busybox echo ran-from-tmp; id -u; ls /sys/class/net\n"
	job := shJob(script)
	job.ExecScratch = true
	res := runRaw(t, s, job)
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "ran-from-tmp") {
		t.Fatalf("exec scratch on a trusted image: %+v", res)
	}
	if strings.Contains(res.Stdout, "\n0\n") || strings.Contains(res.Stdout, "eth0") {
		t.Fatalf("exec scratch lost a hardening (root or network): %q", res.Stdout)
	}
	res = runRaw(t, s, shJob(script))
	if strings.Contains(res.Stdout, "ran-from-tmp") || !strings.Contains(res.Stdout+res.Stderr, "ermission denied") {
		t.Fatalf("without ExecScratch the scratch space must stay noexec: %+v", res)
	}
	py := pyJob("print('hi')\n")
	py.ExecScratch = true
	if _, err := s.exec.prepare(py); !errors.Is(err, ErrExecScratch) || !strings.Contains(err.Error(), pythonImage()) {
		t.Fatalf("untrusted image with ExecScratch prepared: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if res, err := s.Run(ctx, py); !errors.Is(err, ErrExecScratch) || res.ContainerID != "" {
		t.Fatalf("untrusted image with ExecScratch ran: %+v %v", res, err)
	}
}
