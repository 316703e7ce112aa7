package selfmod

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test runs the pipeline in a child process (this test binary,
// started again with these variables) that stops at one step; the parent
// kills it there with SIGKILL, then starts again and recovers.
const (
	crashDirEnv  = "MAI_SELFMOD_CRASH_DIR"
	crashStepEnv = "MAI_SELFMOD_CRASH_STEP"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(crashStepEnv)))
	}
	os.Exit(m.Run())
}

// crashChild proposes, approves and waits, blocking forever at step.
func crashChild(dir, step string) int {
	t := &testing.T{} // only for the helpers' signatures; failures end the process below
	e := &env{dir: dir, repo: filepath.Join(dir, "workspace"), model: &scriptedModel{verdict: "approve"}}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(os.Stderr, "child:", r)
			os.Exit(3)
		}
	}()
	e.open(t)
	e.svc = e.service(t, func(_, s string) {
		if s == step {
			os.WriteFile(filepath.Join(dir, "reached"), []byte(s), 0o600)
			select {}
		}
	})
	ctx := context.Background()
	r, err := e.svc.Propose(ctx, e.proposal("You are Mai, and warm.\n"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	e.decide(t, r, true)
	if _, err := e.svc.Wait(ctx, r.ID); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func TestCrashAtEachStep(t *testing.T) {
	steps := []struct {
		step      string
		committed bool // after recovery
	}{
		{"worktree", false}, {"risk", false}, {"review", false}, {"check", false}, {"request", false},
		{"commit", true}, {"move", true}, {"committed", true},
	}
	for _, tt := range steps {
		t.Run(tt.step, func(t *testing.T) {
			dir := t.TempDir()
			repo := filepath.Join(dir, "workspace")
			initRepo(t, repo, map[string]string{"persona.md": "You are Mai.\n"})
			base := run(t, repo, "git", "rev-parse", "HEAD")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStepEnv+"="+tt.step)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(dir, "reached")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the child never reached %s: %s", tt.step, stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()

			e := &env{dir: dir, repo: repo, model: &scriptedModel{verdict: "approve"}}
			e.open(t)
			e.svc = e.service(t, nil)
			ctx := context.Background()
			if err := e.svc.Recover(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Settle(ctx); err != nil {
				t.Fatal(err)
			}
			list, err := e.svc.List(ctx)
			if err != nil || len(list) != 1 {
				t.Fatalf("%d proposals, %v", len(list), err)
			}
			r := list[0]
			head := e.git(t, "rev-parse", "main")
			persona, _ := os.ReadFile(filepath.Join(repo, "persona.md"))
			if tt.committed {
				if r.State != Committed || head != r.Commit || e.git(t, "rev-parse", "main~1") != base || string(persona) != "You are Mai, and warm.\n" {
					t.Fatalf("not completed: %s %q head %s commit %s", r.State, persona, head, r.Commit)
				}
				if tr := e.git(t, "log", "-1", "--format=%(trailers:key=Mai-Change-Sha256,valueonly)"); tr != r.DiffSHA256 {
					t.Fatalf("trailer %q", tr)
				}
			} else if r.State != Failed || head != base || string(persona) != "You are Mai.\n" {
				t.Fatalf("not rolled back: %s %q", r.State, persona)
			}
			if st := e.git(t, "status", "--porcelain"); st != "" {
				t.Fatalf("half-applied: %s", st)
			}
			if rep, err := e.log.Verify(ctx); err != nil || !rep.OK {
				t.Fatalf("audit verify: %+v %v", rep, err)
			}
			e.leftovers(t)
		})
	}
}
