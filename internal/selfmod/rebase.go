package selfmod

import (
	"context"
	"errors"
	"fmt"

	"github.com/maicompanion/mai/internal/approval"
)

// rebaseApproved moves an approved proposal whose branch has moved onto
// the new head in wt. An unchanged diff goes on to the commit after its
// checks ran again; a changed diff is a new payload and gets a new request
// (done); a diff that no longer applies is superseded (done).
func (s *Service) rebaseApproved(ctx context.Context, r *Record, wt, head string) (done bool, err error) {
	oldRequest := r.ApprovalID
	changed, err := s.rebase(ctx, r, wt, head)
	if errors.Is(err, errSuperseded) {
		return true, nil
	}
	if err != nil || !changed {
		return err != nil, err
	}
	return true, s.request(ctx, r, oldRequest)
}

// rebase applies r's diff on head in wt and runs the checks again. It
// reports whether the diff changed; a diff that does not apply marks r
// superseded and returns errSuperseded.
func (s *Service) rebase(ctx context.Context, r *Record, wt, head string) (changed bool, err error) {
	s.step(r.ID, "rebase")
	tree, diff, aerr := applyDiff(ctx, wt, head, r.Diff)
	if aerr != nil {
		r.State, r.Reason = Superseded, "the branch moved and the change no longer applies"
		err := errors.Join(s.save(ctx, r), s.record(ctx, "mai", "selfmod.supersede", r, map[string]any{"head": head, "error": aerr.Error()}))
		if r.ApprovalID != "" {
			err = errors.Join(err, ignoreNotPending(s.o.Approvals.Supersede(ctx, r.ApprovalID, "the change no longer applies to "+r.Branch)))
		}
		return false, errors.Join(errSuperseded, err)
	}
	old := r.Base
	r.Base = head
	changed = diff != r.Diff
	r.Tree, r.Diff, r.DiffSHA256 = tree, diff, hashOf(diff)
	c := s.check(ctx, r.Repo, wt, head)
	r.Checks = &c
	if err := errors.Join(s.save(ctx, r), s.record(ctx, "mai", "selfmod.rebase", r, map[string]any{"from": old, "diff_changed": changed,
		"checks": c.Status})); err != nil {
		return changed, err
	}
	return changed, nil
}

var errSuperseded = errors.New("the proposal was superseded")

// rebaseOthers moves every other pending proposal of the branch onto the
// commit just made: those whose diff still applies are rebased (a changed
// diff gets a new request, bound to the new hash, superseding the old);
// the others are superseded.
func (s *Service) rebaseOthers(ctx context.Context, done Record) error {
	pending, err := s.inState(ctx, Pending)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range pending {
		if o.RepoPath != done.RepoPath || o.Branch != done.Branch || o.Base == done.Commit {
			continue
		}
		errs = append(errs, s.rebaseOne(ctx, &o, done.Commit))
	}
	return errors.Join(errs...)
}

func (s *Service) rebaseOne(ctx context.Context, o *Record, head string) error {
	wt := s.worktreeDir(o.ID, "rebase")
	if err := s.addWorktree(ctx, o.RepoPath, wt, head); err != nil {
		return err
	}
	defer s.removeWorktree(o.RepoPath, wt)
	oldRequest := o.ApprovalID
	changed, err := s.rebase(ctx, o, wt, head)
	if errors.Is(err, errSuperseded) {
		return nil
	}
	if err != nil || !changed {
		return err
	}
	if err := s.request(ctx, o, oldRequest); err != nil {
		return fmt.Errorf("rebase %s: %w", o.ID, err)
	}
	return nil
}

func ignoreNotPending(err error) error {
	if errors.Is(err, approval.ErrNotPending) {
		return nil
	}
	return err
}
