package selfmod

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/approval"
)

// BenchmarkPipeline measures the pipeline's own overhead for a one-file
// change — validation, risk, worktree, diff, approval request and
// decision, commit with trailers, branch move, audit entries, everything
// but the review and the checks (no reviewer, no sandbox) — against a bare
// git worktree add + commit + branch move + worktree remove of the same
// change, interleaved in the same loop. Goal: x-bare ≤ 1.5.
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	e := &env{dir: b.TempDir(), repo: filepath.Join(b.TempDir(), "workspace")}
	bare := filepath.Join(b.TempDir(), "bare")
	for _, repo := range []string{e.repo, bare} {
		initRepo(b, repo, map[string]string{"persona.md": "You are Mai.\n"})
	}
	e.open(b)
	svc, err := New(Options{DB: e.db.DB, Approvals: e.approvals, Audit: e.log, Dir: filepath.Join(e.dir, "selfmod")})
	if err != nil {
		b.Fatal(err)
	}
	wt := filepath.Join(b.TempDir(), "wt")
	var mine, plain time.Duration
	i := 0
	for b.Loop() {
		i++
		content := fmt.Sprintf("You are Mai, version %d.\n", i)
		start := time.Now()
		p := Proposal{Target: Target{Name: Workspace, Path: e.repo}, Subject: "persona", Requester: "mai",
			Changes: []Change{{Path: "persona.md", Content: []byte(content)}}}
		r, err := svc.Propose(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.approvals.Decide(ctx, r.ApprovalID, approval.Decision{Approve: true, By: approval.LocalOwner,
			Via: approval.ViaTerminal, PayloadSHA256: r.DiffSHA256}); err != nil {
			b.Fatal(err)
		}
		if r, err = svc.Wait(ctx, r.ID); err != nil || r.State != Committed {
			b.Fatal(r.State, err)
		}
		mine += time.Since(start)

		start = time.Now()
		bareCommit(b, bare, wt, content)
		plain += time.Since(start)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(mine.Milliseconds())/float64(b.N), "ms/pipeline")
	b.ReportMetric(float64(plain.Milliseconds())/float64(b.N), "ms/bare")
	b.ReportMetric(float64(mine)/float64(plain), "x-bare")
}

// bareCommit is the baseline: what the change costs in git alone.
func bareCommit(b *testing.B, repo, wt, content string) {
	ctx := context.Background()
	if _, err := git(ctx, repo, nil, "worktree", "add", "--detach", "--quiet", wt, "main"); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wt, "persona.md"), []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, s := range [][]string{{"add", "-A"}, {"commit", "--quiet", "-m", "persona"}} {
		if _, err := git(ctx, wt, nil, s...); err != nil {
			b.Fatal(err)
		}
	}
	head, err := gitLine(ctx, wt, "rev-parse", "HEAD")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := git(ctx, repo, nil, "merge", "--ff-only", "--quiet", head); err != nil {
		b.Fatal(err)
	}
	if _, err := git(ctx, repo, nil, "worktree", "remove", "--force", wt); err != nil {
		b.Fatal(err)
	}
}
