package selfmod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Recover completes or rolls back what a crash interrupted, then removes
// every temporary worktree: a proposal caught before its approval request
// fails; one caught between approval and the branch move is completed
// when the branch has not moved since (else it fails, nothing applied);
// repos are pruned of worktrees whose folders are gone. extra names
// repositories to prune even when no proposal names them.
func (s *Service) Recover(ctx context.Context, extra ...string) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	open, err := s.inState(ctx, Preparing, Committing)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range open {
		errs = append(errs, s.recoverOne(ctx, &r))
	}
	errs = append(errs, s.prune(ctx, extra))
	return errors.Join(errs...)
}

func (s *Service) recoverOne(ctx context.Context, r *Record) error {
	if r.State == Preparing {
		r.State, r.Reason = Failed, "interrupted before the approval request; nothing was applied"
		return errors.Join(s.save(ctx, r), s.record(ctx, "mai", "selfmod.recover", r, map[string]any{"outcome": "rolled back", "state": Preparing}))
	}
	head, checkedOut, err := headAndCheckedOut(ctx, r.RepoPath, "refs/heads/"+r.Branch+"^{commit}")
	if err != nil {
		return err
	}
	outcome := "completed"
	switch {
	case head == r.Commit:
	case head == r.Base && s.commitExists(ctx, r):
		if err := s.moveBranch(ctx, r, checkedOut); err != nil {
			outcome = "rolled back"
			r.State, r.Reason = Failed, fmt.Sprintf("interrupted before the commit: %v", err)
		}
	default:
		outcome = "rolled back"
		r.State, r.Reason = Failed, "interrupted before the commit and the branch has moved since; nothing was applied"
	}
	if outcome == "completed" {
		r.State = Committed
	} else {
		r.Commit = ""
	}
	err = errors.Join(s.save(ctx, r), s.record(ctx, "mai", "selfmod.recover", r, map[string]any{"outcome": outcome, "state": Committing}))
	if outcome == "completed" {
		err = errors.Join(err, s.rebaseOthers(ctx, *r))
	}
	return err
}

func (s *Service) commitExists(ctx context.Context, r *Record) bool {
	if r.Commit == "" {
		return false
	}
	_, err := git(ctx, r.RepoPath, nil, "cat-file", "-e", r.Commit+"^{commit}")
	return err == nil
}

// prune removes every folder in Dir (no live process holds a worktree
// while we hold the lock) and lets git forget them.
func (s *Service) prune(ctx context.Context, extra []string) error {
	entries, err := os.ReadDir(s.o.Dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, os.RemoveAll(filepath.Join(s.o.Dir, e.Name())))
		}
	}
	rows, err := s.o.DB.QueryContext(ctx, `SELECT DISTINCT repo_path FROM selfmod_proposals`)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	repos := append([]string{}, extra...)
	for rows.Next() {
		var p string
		if rows.Scan(&p) == nil {
			repos = append(repos, p)
		}
	}
	rows.Close()
	for _, p := range repos {
		if _, err := os.Stat(p); err == nil {
			_, err := git(ctx, p, nil, "worktree", "prune")
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Revert proposes to undo commit on the target's branch, through the same
// pipeline.
func (s *Service) Revert(ctx context.Context, t Target, commit, requester string) (Record, error) {
	if _, err := resolve(ctx, &t); err != nil {
		return Record{}, err
	}
	full, err := gitLine(ctx, t.Path, "rev-parse", "--verify", commit+"^{commit}")
	if err != nil {
		return Record{}, fmt.Errorf("%s is not a commit of %s: %w", commit, t.Path, err)
	}
	if _, err := git(ctx, t.Path, nil, "merge-base", "--is-ancestor", full, "refs/heads/"+t.Branch); err != nil {
		return Record{}, fmt.Errorf("commit %s is not on branch %s", commit, t.Branch)
	}
	subject, err := gitLine(ctx, t.Path, "log", "-1", "--format=%s", full)
	if err != nil {
		return Record{}, err
	}
	return s.Propose(ctx, Proposal{Target: t, Subject: fmt.Sprintf("Revert %q", subject), Rationale: "This reverts commit " + full + ".",
		Request: "revert " + full, RequestedIn: "cli", Requester: requester, Revert: full})
}
