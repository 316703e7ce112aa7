package selfmod

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/maicompanion/mai/internal/approval"
)

// Errors of the commit step.
var (
	ErrChanged      = errors.New("the change differs from what the owner approved")
	ErrChecksFailed = errors.New("the checks failed")
)

// Wait waits until the owner decides the proposal (following it through
// rebases, which make a new request), then completes it: approved →
// committed; denied, expired or withdrawn → discarded.
func (s *Service) Wait(ctx context.Context, id string) (Record, error) {
	for {
		r, err := s.Get(ctx, id)
		if err != nil || r.State != Pending {
			return r, err
		}
		if _, err := s.o.Approvals.Wait(ctx, r.ApprovalID); err != nil {
			return r, err
		}
		if r, err = s.settleID(ctx, id); err != nil || r.State != Pending {
			return r, err
		}
	}
}

// Settle completes every pending proposal whose request has been decided
// (by another process, or while Mai was stopped) and returns them.
func (s *Service) Settle(ctx context.Context) ([]Record, error) {
	pending, err := s.inState(ctx, Pending)
	if err != nil {
		return nil, err
	}
	var out []Record
	var errs []error
	for _, r := range pending {
		a, err := s.o.Approvals.Get(ctx, r.ApprovalID)
		if err != nil || a.State == approval.Pending {
			errs = append(errs, err)
			continue
		}
		got, err := s.settleID(ctx, r.ID)
		out, errs = append(out, got), append(errs, err)
	}
	return out, errors.Join(errs...)
}

// settleID completes one proposal under the lock.
func (s *Service) settleID(ctx context.Context, id string) (Record, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return Record{}, err
	}
	defer unlock()
	r, err := s.Get(ctx, id)
	if err != nil || r.State != Pending {
		return r, err
	}
	a, err := s.o.Approvals.Get(ctx, r.ApprovalID)
	if err != nil {
		return r, err
	}
	switch a.State {
	case approval.Pending:
		return r, nil
	case approval.Approved:
		err = s.commit(ctx, &r, a)
	case approval.Superseded:
		r.State, r.Reason = Superseded, "its approval request was superseded"
		err = errors.Join(s.save(ctx, &r), s.record(ctx, "mai", "selfmod.supersede", &r, map[string]any{"approval_id": a.ID}))
	default: // denied, expired, withdrawn
		r.State, r.Reason = Denied, fmt.Sprintf("the approval request was %s", a.State)
		err = errors.Join(s.save(ctx, &r), s.record(ctx, a.DecidedBy, "selfmod.discard", &r, map[string]any{"approval_id": a.ID, "approval_state": a.State}))
	}
	return r, err
}

// fail ends a proposal that cannot be completed.
func (s *Service) fail(ctx context.Context, r *Record, cause error) error {
	r.State, r.Reason = Failed, cause.Error()
	return errors.Join(cause, s.save(ctx, r), s.record(ctx, "mai", "selfmod.fail", r, map[string]any{"error": cause.Error()}))
}

// commit makes the approved change the branch's new head: the diff must
// be exactly the approved one; a stale proposal is rebased first (and its
// checks run again), and a rebase that changes the diff asks the owner
// anew.
func (s *Service) commit(ctx context.Context, r *Record, a approval.Request) error {
	if a.PayloadSHA256 != r.DiffSHA256 || hashOf(r.Diff) != r.DiffSHA256 {
		return s.fail(ctx, r, ErrChanged)
	}
	head, checkedOut, err := headAndCheckedOut(ctx, r.RepoPath, "refs/heads/"+r.Branch+"^{commit}")
	if err != nil {
		return s.fail(ctx, r, err)
	}
	if head != r.Base {
		wt := s.worktreeDir(r.ID, "rebase")
		if err := s.addWorktree(ctx, r.RepoPath, wt, head); err != nil {
			return s.fail(ctx, r, err)
		}
		done, err := s.rebaseApproved(ctx, r, wt, head)
		s.removeWorktree(r.RepoPath, wt)
		if done || err != nil {
			return err
		}
	}
	// The tree built when the change was applied must give exactly the
	// approved diff; the commit is made from it, without a second checkout.
	if d, err := treeDiff(ctx, r.RepoPath, r.Base, r.Tree); r.Tree == "" || err != nil || d != r.Diff {
		return s.fail(ctx, r, errors.Join(ErrChanged, err))
	}
	if r.Checks != nil && r.Checks.Status == "failed" && !r.Flags.DespiteChecks {
		return s.fail(ctx, r, fmt.Errorf("%w (exit %d); not committed without the explicit override", ErrChecksFailed, r.Checks.ExitCode))
	}
	s.step(r.ID, "commit")
	out, err := git(ctx, r.RepoPath, []byte(Message(*r, a)), "commit-tree", r.Tree, "-p", r.Base, "-F", "-")
	if err != nil {
		return s.fail(ctx, r, err)
	}
	r.Commit = strings.TrimSpace(out)
	r.State = Committing
	if err := s.save(ctx, r); err != nil {
		return err
	}
	s.step(r.ID, "move")
	if err := s.moveBranch(ctx, r, checkedOut); err != nil {
		r.Commit = ""
		return s.fail(ctx, r, err)
	}
	r.State = Committed
	if err := errors.Join(s.save(ctx, r), s.record(ctx, a.DecidedBy, "selfmod.commit", r, map[string]any{"approval_id": a.ID,
		"approved_by": approvedBy(a), "branch": r.Branch})); err != nil {
		return err
	}
	s.step(r.ID, "committed")
	return s.rebaseOthers(ctx, *r)
}

// moveBranch makes r.Commit the branch's head, from r.Base (a
// compare-and-swap). When the branch is checked out in the repository's
// main worktree (checkedOut is its full name), a fast-forward merge moves
// the files with it.
func (s *Service) moveBranch(ctx context.Context, r *Record, checkedOut string) error {
	if checkedOut == "refs/heads/"+r.Branch {
		_, err := git(ctx, r.RepoPath, nil, "merge", "--ff-only", "--quiet", r.Commit)
		if err != nil {
			return fmt.Errorf("move %s in %s (uncommitted edits in the way?): %w", r.Branch, r.RepoPath, err)
		}
		return nil
	}
	_, err := git(ctx, r.RepoPath, nil, "update-ref", "refs/heads/"+r.Branch, r.Commit, r.Base)
	return err
}

func approvedBy(a approval.Request) string {
	if a.DecidedVia == "" {
		return a.DecidedBy
	}
	return a.DecidedBy + " (" + string(a.DecidedVia) + ")"
}
