package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/testenv"
)

// unreachableImage is on a closed loopback port: a pull fails at once and
// nothing leaves the machine.
const unreachableImage = "127.0.0.1:9/mai/none:latest"

func TestMissingImage(t *testing.T) {
	s := newTestSandbox(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	job := shJob("echo hi")
	job.Image = unreachableImage
	_, err := runRawErr(t, s, job)
	if !errors.Is(err, ErrImageMissing) {
		t.Fatalf("run with a missing image: err = %v, want ErrImageMissing", err)
	}
	t.Logf("run: %v", err)
	if !strings.Contains(err.Error(), unreachableImage) {
		t.Errorf("error %q does not name the image", err)
	}
	noAdvice(t, err)

	var reports int
	err = s.EnsureImage(ctx, unreachableImage, func(PullProgress) { reports++ })
	if err == nil {
		t.Fatal("pulling from a closed port succeeded")
	}
	t.Logf("pull: %v", err)
	if !errors.Is(err, ErrPull) {
		t.Errorf("pull error %v is not ErrPull", err)
	}
	for _, want := range []string{"pull " + unreachableImage, "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("pull error %q does not mention %q", err, want)
		}
	}
	noAdvice(t, err)

	st, err := s.ImageStatus(ctx, unreachableImage)
	if err != nil || st.Present {
		t.Errorf("status of the missing image = %+v, %v", st, err)
	}
	st, err = s.ImageStatus(ctx, shellImage())
	if err != nil || !st.Present || st.ID == "" || st.Size <= 0 {
		t.Errorf("status of the shell image = %+v, %v", st, err)
	}
	// EnsureImage does nothing for an image that is there.
	if err := s.EnsureImage(ctx, shellImage(), nil); err != nil {
		t.Errorf("ensure present image: %v", err)
	}
}

func TestStoppedDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	_, err := New(ctx, Options{Host: "unix://" + sock})
	if !errors.Is(err, ErrEngine) {
		t.Fatalf("New against a socket nobody listens on: err = %v, want ErrEngine", err)
	}
	t.Logf("new: %v", err)
	if !strings.Contains(err.Error(), sock) {
		t.Errorf("error %q does not say where it looked", err)
	}
	noAdvice(t, err)
}

// noAdvice checks that an error says what failed and leaves what to type to
// the front ends: a Discord user cannot run dockerd.
func noAdvice(t *testing.T, err error) {
	t.Helper()
	for _, advice := range []string{"dockerd", "mai sandbox", "docker load", "docker import", "docker info", "start Docker"} {
		if strings.Contains(err.Error(), advice) {
			t.Errorf("error %q carries command-line advice (%q)", err, advice)
		}
	}
}

// A cancelled request stays recognisable as such through the sandbox's
// errors, wherever the engine's own error is wrapped.
func TestEngineErrorsKeepTheirCause(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sock := "unix://" + filepath.Join(t.TempDir(), "docker.sock")
	_, err := New(ctx, Options{Host: sock})
	if !errors.Is(err, ErrEngine) || !errors.Is(err, context.Canceled) {
		t.Errorf("New with a cancelled context: %v; want ErrEngine wrapping context.Canceled", err)
	}

	cli, cerr := client.New(client.WithHost(sock))
	if cerr != nil {
		t.Fatal(cerr)
	}
	defer cli.Close()
	s := &Sandbox{exec: &executor{cli: cli, image: "python:3.12-slim"}}
	err = s.Pull(ctx, "mai/none:latest", nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Pull with a cancelled context: %v; want it to wrap context.Canceled", err)
	}

	refused := &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	err = offline().engineErr("inspect image", refused)
	if !errors.Is(err, ErrEngine) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("engineErr: %v; want ErrEngine wrapping the refused connection", err)
	}
	noAdvice(t, err)
}

// offline is an executor for what needs no engine: validating jobs.
func offline() *executor {
	return &executor{image: "python:3.12-slim", limits: defaultLimits, cpuCores: 2, inflight: map[string]bool{}}
}

func TestUnsupportedLanguage(t *testing.T) {
	e := offline()
	tests := []struct{ lang, image string }{
		{"go", ""},
		{"ruby", shellImage()},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			_, err := e.prepare(Job{Language: tt.lang, Image: tt.image, Files: map[string][]byte{"x": []byte("x")}})
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			img := tt.image
			if img == "" {
				img = e.image
			}
			if !strings.Contains(err.Error(), "not supported by image "+img) {
				t.Errorf("error %q does not name the image", err)
			}
		})
	}
}

func TestBadJobs(t *testing.T) {
	e := offline()
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"no files", Job{Language: "sh"}, "no files"},
		{"absolute path", Job{Language: "sh", Files: map[string][]byte{"/etc/x": nil}}, "clean relative path"},
		{"parent path", Job{Language: "sh", Files: map[string][]byte{"../x": nil}}, "clean relative path"},
		{"unclean path", Job{Language: "sh", Files: map[string][]byte{"a//b": nil}}, "clean relative path"},
		{"entry missing", Job{Language: "sh", Entry: "run.sh", Files: map[string][]byte{"main.sh": nil}}, "not among"},
		{"no entry among several", Job{Language: "sh", Files: map[string][]byte{"a.sh": nil, "b.sh": nil}}, "no entry"},
		{"bad id", Job{ID: "a b", Language: "sh", Files: map[string][]byte{"main.sh": nil}}, "job id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.prepare(tt.job)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestPrepareDefaults(t *testing.T) {
	e := offline()
	p, err := e.prepare(Job{Language: "py", Files: map[string][]byte{"b/x.py": []byte("1"), "main.py": []byte("2")},
		Limits: Limits{CPUs: 8, MemoryBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if p.entry != "main.py" || p.lang.name != "python" || p.image != "python:3.12-slim" || !p.generatedID || p.job.ID == "" {
		t.Errorf("prepared %+v", p)
	}
	want := defaultLimits
	want.CPUs, want.MemoryBytes = 2, 1<<20 // bounded by the cores; the job's own memory
	if p.limits != want {
		t.Errorf("limits = %+v, want %+v", p.limits, want)
	}
	names := tarNames(t, p.tarball)
	if strings.Join(names, " ") != "b/ b/x.py main.py" {
		t.Errorf("tar holds %v", names)
	}
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || (h.Typeflag == tar.TypeReg && h.Mode != 0o644) || (h.Typeflag == tar.TypeDir && h.Mode != 0o755) {
			t.Errorf("%s: uid %d mode %o, want root-owned 0644 files and 0755 directories", h.Name, h.Uid, h.Mode)
		}
		names = append(names, h.Name)
	}
}

// TestEngineLostMidJob cuts the connection to the engine while a job runs,
// as a daemon stop or restart does, then brings it back: the job gives a
// clear error, and Cleanup removes what its failed removal left.
func TestEngineLostMidJob(t *testing.T) {
	direct := newTestSandbox(t, Options{})
	cli := rawClient(t)
	proxy := newEngineProxy(t, direct.exec.cli.DaemonHost())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, Options{Host: "unix://" + proxy.path, Image: pythonImage()})
	if err != nil {
		t.Fatalf("new through the proxy: %v", err)
	}
	defer s.Close()

	job := shJob("echo started; sleep 100")
	job.ID = "lost-" + newJobID()
	t.Cleanup(func() {
		f := make(client.Filters).Add("label", LabelJob+"="+job.ID)
		l, _ := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: f})
		for _, c := range l.Items {
			cli.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
		}
		cli.VolumeRemove(context.Background(), "mai-sandbox-"+job.ID, client.VolumeRemoveOptions{Force: true})
	})
	go whenRunning(ctx, cli, job.ID, "sleep 100", func(string) { proxy.cut() })
	p, err := s.exec.prepare(job)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.exec.run(ctx, p)
	if !errors.Is(err, ErrEngine) {
		t.Fatalf("err = %v, want ErrEngine", err)
	}
	t.Logf("run: %v", err)
	if !strings.Contains(err.Error(), "stopped or restarted mid-job") {
		t.Errorf("error %q does not say the engine went away mid-job", err)
	}
	if d := time.Since(start); d > 45*time.Second {
		t.Errorf("the lost engine was noticed after %s", d)
	}
	if c, _ := leftovers(t, cli, job.ID); c == 0 {
		t.Fatal("the container vanished although its removal could not reach the engine; the test proves nothing")
	}

	proxy.restore()
	// A removal sent just as the connection was cut may still be under way
	// on the engine; Cleanup leaves that one alone, so try a few times.
	for try := 0; ; try++ {
		if _, _, err := s.Cleanup(ctx); err != nil {
			t.Fatalf("cleanup after the engine came back: %v", err)
		}
		if c, v := leftovers(t, cli, job.ID); c+v == 0 {
			break
		} else if try == 20 {
			t.Fatalf("%d containers and %d volumes left after cleanup", c, v)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// engineProxy forwards a unix socket to the engine's, and can cut every
// connection and refuse new ones, then accept again.
type engineProxy struct {
	t      *testing.T
	path   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newEngineProxy(t *testing.T, daemonHost string) *engineProxy {
	t.Helper()
	target, ok := strings.CutPrefix(daemonHost, "unix://")
	if !ok {
		testenv.Missing(t, "a unix-socket Docker engine", "the engine at "+daemonHost+" is not on a unix socket", "point DOCKER_HOST at a unix:// socket")
	}
	dir, err := os.MkdirTemp("", "mai-proxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &engineProxy{t: t, path: filepath.Join(dir, "d.sock"), target: target}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *engineProxy) restore() {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *engineProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
