package selfmod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/maicompanion/mai/internal/approval"
)

// addWorktree checks commit out, detached, in a new temporary worktree.
func (s *Service) addWorktree(ctx context.Context, repo, dir, commit string) error {
	os.RemoveAll(dir)
	_, err := git(ctx, repo, nil, "worktree", "add", "--detach", "--quiet", dir, commit)
	return err
}

// removeWorktree removes a temporary worktree and its administrative files.
func (s *Service) removeWorktree(repo, dir string) {
	ctx := context.Background()
	if _, err := git(ctx, repo, nil, "worktree", "remove", "--force", dir); err != nil {
		os.RemoveAll(dir)
		git(ctx, repo, nil, "worktree", "prune")
	}
}

// diffArgs make a diff exact and independent of user configuration.
var diffArgs = []string{"diff", "--binary", "--full-index", "--no-color", "--no-ext-diff", "--no-renames"}

// stagedDiff stages everything in the worktree and returns the tree it
// makes and the exact diff against base: the payload the owner approves.
func stagedDiff(ctx context.Context, wt, base string) (tree, diff string, err error) {
	if _, err := git(ctx, wt, nil, "add", "-A"); err != nil {
		return "", "", err
	}
	if tree, err = gitLine(ctx, wt, "write-tree"); err != nil {
		return "", "", err
	}
	diff, err = treeDiff(ctx, wt, base, tree)
	return tree, diff, err
}

// treeDiff is the exact diff from base to tree.
func treeDiff(ctx context.Context, dir, base, tree string) (string, error) {
	return git(ctx, dir, nil, append(diffArgs, base, tree)...)
}

// writeChanges writes the proposed files into the worktree.
func writeChanges(wt string, changes []Change) error {
	for _, c := range changes {
		p := filepath.Join(wt, filepath.FromSlash(c.Path))
		if c.Delete {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("delete %s: %w", c.Path, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", c.Path, err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(string(c.Content), "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, c.Content, mode); err != nil {
			return fmt.Errorf("write %s: %w", c.Path, err)
		}
	}
	return nil
}

// applyDiff applies a stored diff to the worktree's index and files, and
// returns the tree and the diff as it now stands against base.
func applyDiff(ctx context.Context, wt, base, diff string) (tree, newDiff string, err error) {
	if _, err := git(ctx, wt, []byte(diff), "apply", "--index", "--binary", "--whitespace=nowarn", "-"); err != nil {
		return "", "", err
	}
	return stagedDiff(ctx, wt, base)
}

// changedFiles lists the paths a diff touches, from the worktree's index.
func changedFiles(ctx context.Context, wt, base string) ([]string, error) {
	out, err := git(ctx, wt, nil, "diff", "--cached", "--name-only", "-z", "--no-renames", base)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range strings.Split(out, "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// resolve fills in the target's branch and returns its head commit.
func resolve(ctx context.Context, t *Target) (string, error) {
	abs, err := filepath.Abs(t.Path)
	if err != nil {
		return "", err
	}
	t.Path = abs
	rev := "refs/heads/" + t.Branch + "^{commit}"
	if t.Branch == "" {
		rev = "HEAD"
	}
	head, name, err := headAndCheckedOut(ctx, t.Path, rev)
	if err != nil {
		return "", fmt.Errorf("%s repository %s: %w", t.Name, t.Path, err)
	}
	if t.Branch == "" {
		if t.Branch = strings.TrimPrefix(name, "refs/heads/"); t.Branch == name {
			return "", fmt.Errorf("%s repository %s: no branch is checked out", t.Name, t.Path)
		}
	}
	return head, nil
}

// headAndCheckedOut returns the commit rev names and the full name of the
// branch checked out in repo ("HEAD" when detached), with one git call.
func headAndCheckedOut(ctx context.Context, repo, rev string) (head, checkedOut string, err error) {
	out, err := git(ctx, repo, nil, "rev-parse", rev, "--symbolic-full-name", "HEAD")
	lines := strings.Fields(out)
	if err != nil || len(lines) != 2 {
		return "", "", fmt.Errorf("%s: %w", strings.TrimSuffix(rev, "^{commit}"), errors.Join(err, errors.New("not found")))
	}
	return lines[0], lines[1], nil
}

// hashOf is the SHA-256 that binds the approval to the diff.
func hashOf(diff string) string { return approval.Hash([]byte(diff)) }
