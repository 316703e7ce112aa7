package sandbox

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/testenv"
	"github.com/moby/moby/client"
)

// The images .ci/docker.sh builds; the variables it exports override them.
const (
	defaultShellImage  = "mai-test/busybox:1"
	defaultPythonImage = "mai-test/python:3-bookworm"
	howToFix           = "run 'eval \"$(.ci/docker.sh)\"' as root (installs docker.io, starts dockerd, builds the test images)"
)

func shellImage() string  { return envOr("MAI_TEST_SHELL_IMAGE", defaultShellImage) }
func pythonImage() string { return envOr("MAI_TEST_PYTHON_IMAGE", defaultPythonImage) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newTestSandbox connects to the real engine and checks that the test
// images are there, or reports the missing component.
func newTestSandbox(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if opts.Image == "" {
		opts.Image = pythonImage()
	}
	s, err := New(ctx, opts)
	if err != nil {
		testenv.Missing(t, "dockerd", err.Error(), howToFix)
	}
	t.Cleanup(func() { s.Close() })
	for _, img := range []string{shellImage(), pythonImage()} {
		st, err := s.ImageStatus(ctx, img)
		if err != nil {
			t.Fatalf("image status %s: %v", img, err)
		}
		if !st.Present {
			testenv.Missing(t, "test image "+img, "not built on this engine", howToFix)
		}
	}
	return s
}

// rawClient is a second, independent client: what "outside the sandbox"
// sees of the engine.
func rawClient(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// runRaw runs a job straight through the executor, without the gate: the
// containment tests check what the container allows, whatever the risk
// verdict of the hostile code would have been.
func runRaw(t testing.TB, s *Sandbox, job Job) Result {
	t.Helper()
	res, err := runRawErr(t, s, job)
	if err != nil {
		t.Fatalf("run %s job: %v", job.Language, err)
	}
	return res
}

func runRawErr(t testing.TB, s *Sandbox, job Job) (Result, error) {
	t.Helper()
	p, err := s.exec.prepare(job)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.exec.run(ctx, p)
}

func pyJob(src string) Job {
	return Job{Language: "python", Image: pythonImage(), Files: map[string][]byte{"main.py": []byte(src)}}
}

func shJob(src string) Job {
	return Job{Language: "sh", Image: shellImage(), Files: map[string][]byte{"main.sh": []byte(src)}}
}

// leftovers lists the containers and volumes labelled with jobID.
func leftovers(t testing.TB, cli *client.Client, jobID string) (containers, volumes int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := make(client.Filters).Add("label", LabelJob+"="+jobID)
	cl, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	vl, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatalf("list volumes: %v", err)
	}
	return len(cl.Items), len(vl.Items)
}

func assertNoLeftovers(t testing.TB, cli *client.Client, jobID string) {
	t.Helper()
	if c, v := leftovers(t, cli, jobID); c+v != 0 {
		t.Errorf("job %s left %d containers and %d volumes behind", jobID, c, v)
	}
}

// whenRunning calls f with the container id once the job's container runs
// a process whose command line contains cmd (so the program itself has
// started, not only its launcher).
func whenRunning(ctx context.Context, cli *client.Client, jobID, cmd string, f func(id string)) {
	flt := make(client.Filters).Add("label", LabelJob+"="+jobID).Add("label", LabelRole+"=job").Add("status", "running")
	for ctx.Err() == nil {
		if l, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: flt}); err == nil && len(l.Items) == 1 {
			top, err := cli.ContainerTop(ctx, l.Items[0].ID, client.ContainerTopOptions{})
			for _, proc := range top.Processes {
				if err == nil && strings.Contains(strings.Join(proc, " "), cmd) {
					f(l.Items[0].ID)
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
