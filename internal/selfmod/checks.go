package selfmod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
)

// checkFile is the workspace's check script, run from the target branch.
const checkFile = "check"

// checkEntry is the job's entry: it runs the check from the repository's
// root (the job's files are mounted at /code).
const checkEntry = ".mai-selfmod-check.sh"

// goCheck vets the source and runs its tests. The job asks for an exec
// scratch space (sandbox.Job.ExecScratch), which the sandbox grants only to
// the trusted Go image, so the test binaries built under /tmp can run.
const goCheck = "cd /code && export PATH=/usr/local/go/bin:$PATH HOME=/tmp GOCACHE=/tmp/go-cache GOPATH=/tmp/go GOTMPDIR=/tmp GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOPROXY=off && go vet ./... && go test ./...\n"

// goCheckCommand is how the source check is shown.
const goCheckCommand = "go vet ./... && go test ./..."

// maxCheckOutput caps the output kept with the result (its end, where a
// failure is told).
const maxCheckOutput = 8 << 10

// check runs the repository's check on the worktree: for the workspace,
// ./check as it is on the target branch before the change (never the
// proposal's own), risk-analysed first; for the source, go vet and go test
// in the Go-capable image.
func (s *Service) check(ctx context.Context, repo, wt, base string) Checks {
	c := Checks{Base: base, ExitCode: -1}
	if s.o.Checker == nil {
		c.Status, c.Note = "unavailable", "no sandbox to run checks in"
		return c
	}
	job := sandbox.Job{Language: "sh", Entry: checkEntry}
	if repo == Source {
		if s.o.GoImage == "" {
			c.Status, c.Note = "unavailable", "no Go-capable sandbox image is configured (SANDBOX_GO_IMAGE)"
			return c
		}
		c.Command, c.Image, job.Image, job.ExecScratch = goCheckCommand, s.o.GoImage, s.o.GoImage, true
		job.Limits = sandbox.Limits{CPUs: 2, WallTime: 10 * time.Minute, MemoryBytes: 2 << 30, ScratchBytes: 1 << 30, PIDs: 256, OutputBytes: 1 << 20}
		job.Files = map[string][]byte{checkEntry: []byte(goCheck)}
	} else {
		script, err := git(ctx, wt, nil, "show", base+":"+checkFile)
		if err != nil {
			c.Status, c.Note = "unavailable", "the target branch has no ./check"
			return c
		}
		v := risk.Analyzer{Policy: s.policy()}.Analyze(ctx, risk.Shell, checkFile, []byte(script))
		c.Risk, c.Command, c.Image, job.Image = &v, "./check", s.o.CheckImage, s.o.CheckImage
		if v.Level >= risk.Blocked {
			c.Status, c.Note = "blocked", "the check itself is BLOCKED by the risk analysis and never runs"
			return c
		}
		job.Files = map[string][]byte{checkEntry: []byte("cd /code && exec /bin/sh ./" + checkFile + "\n")}
		job.Files[checkFile] = []byte(script)
	}
	if err := addTracked(ctx, wt, job.Files); err != nil {
		c.Status, c.Note = "unavailable", err.Error()
		return c
	}
	return s.runCheck(ctx, c, job)
}

func (s *Service) runCheck(ctx context.Context, c Checks, job sandbox.Job) Checks {
	res, err := s.o.Checker.Run(ctx, job)
	if c.Image == "" {
		c.Image = res.Image
	}
	if re, ok := sandbox.IsRefused(err); ok {
		c.Status, c.Note = "blocked", re.Error()
		return c
	}
	if err != nil {
		c.Status, c.Note = "unavailable", "the sandbox could not run the check: "+err.Error()
		return c
	}
	out := res.Stdout + res.Stderr
	if len(out) > maxCheckOutput {
		out = "[…]\n" + out[len(out)-maxCheckOutput:]
	}
	c.ExitCode, c.Output, c.Status = res.ExitCode, out, "passed"
	var notes []string
	if res.TimedOut {
		notes = append(notes, "killed at the time limit")
	}
	if res.OOMKilled {
		notes = append(notes, "killed for memory")
	}
	if res.ExitCode != 0 || res.TimedOut || res.OOMKilled {
		c.Status = "failed"
	}
	c.Note = strings.Join(notes, ", ")
	return c
}

// addTracked adds the worktree's files (as staged) to files, keeping the
// entries already there.
func addTracked(ctx context.Context, wt string, files map[string][]byte) error {
	out, err := git(ctx, wt, nil, "ls-files", "-z", "--cached")
	if err != nil {
		return err
	}
	for _, n := range strings.Split(out, "\x00") {
		if n == "" || files[n] != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(wt, filepath.FromSlash(n)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s for the check: %w", n, err)
		}
		files[n] = data
	}
	return nil
}

// CheckApprover lets the sandbox run a check whose code the risk gate
// calls HIGH: it runs isolated, before the owner decides the change, and
// nothing it does is committed. BLOCKED never reaches an approver.
type CheckApprover struct{}

// Approve implements sandbox.Approver.
func (CheckApprover) Approve(_ context.Context, _ sandbox.ApprovalRequest) (sandbox.Approval, error) {
	return sandbox.Approval{Approved: true, By: "selfmod check (isolated, before the owner's decision)", At: time.Now()}, nil
}
