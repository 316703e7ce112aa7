package selfmod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/review"
	"github.com/maicompanion/mai/internal/risk"
)

// maxReviewDiff caps the diff the reviewer reads (the owner's request
// holds the whole diff).
const maxReviewDiff = 32 << 10

// Propose runs the pipeline up to the owner's decision: it returns the
// stored proposal in state Pending with its approval request, or Blocked
// (with ErrBlocked) or Rejected (with ErrRejected). A bad proposal is
// refused with an error and nothing stored.
func (s *Service) Propose(ctx context.Context, p Proposal) (Record, error) {
	unlock, err := s.lock(ctx)
	if err != nil {
		return Record{}, err
	}
	defer unlock()
	r, err := s.validate(ctx, &p)
	if err != nil {
		return Record{}, err
	}
	if err := s.insert(ctx, r); err != nil {
		return Record{}, err
	}
	if err := s.record(ctx, r.Requester, "selfmod.propose", r, map[string]any{"subject": r.Subject, "files": len(p.Changes),
		"revert": r.Revert, "requested_in": r.RequestedIn}); err != nil {
		return *r, err
	}
	err = s.prepare(ctx, r, p)
	if err != nil && r.State == Preparing {
		r.State, r.Reason = Failed, err.Error()
		s.save(ctx, r)
		s.record(ctx, "mai", "selfmod.fail", r, map[string]any{"error": err.Error()})
	}
	return *r, err
}

// validate checks the proposal's text and paths against the target.
func (s *Service) validate(ctx context.Context, p *Proposal) (*Record, error) {
	if p.Target.Name != Workspace && p.Target.Name != Source {
		return nil, fmt.Errorf("unknown repository %q: want %s or %s", p.Target.Name, Workspace, Source)
	}
	p.Subject = strings.TrimSpace(p.Subject)
	if p.Subject == "" || strings.ContainsAny(p.Subject, "\r\n") || len(p.Subject) > 200 {
		return nil, errors.New("the subject must be one line of at most 200 characters")
	}
	base, err := resolve(ctx, &p.Target)
	if err != nil {
		return nil, err
	}
	if p.Revert != "" {
		if len(p.Changes) > 0 {
			return nil, errors.New("a revert proposal carries no file changes")
		}
	} else if err := checkPaths(ctx, p.Target.Path, base, p.Changes); err != nil {
		return nil, err
	}
	if p.Requester == "" {
		p.Requester = "mai"
	}
	return &Record{Repo: p.Target.Name, RepoPath: p.Target.Path, Branch: p.Target.Branch, Base: base, Subject: p.Subject,
		Rationale: p.Rationale, Request: p.Request, RequestedIn: p.RequestedIn, Requester: p.Requester, Changes: p.Changes,
		Revert: p.Revert, Flags: p.Flags, State: Preparing}, nil
}

// prepare applies, analyses, reviews and checks the change, then asks
// the owner.
func (s *Service) prepare(ctx context.Context, r *Record, p Proposal) error {
	s.step(r.ID, "worktree")
	wt := s.worktreeDir(r.ID, "propose")
	if err := s.addWorktree(ctx, r.RepoPath, wt, r.Base); err != nil {
		return err
	}
	defer s.removeWorktree(r.RepoPath, wt)
	if err := s.materialize(ctx, r, wt, p); err != nil {
		return err
	}
	s.step(r.ID, "risk")
	v, err := s.analyze(ctx, wt, r.Base, p)
	if err != nil {
		return err
	}
	r.Risk = &v
	if err := s.record(ctx, "mai", "selfmod.risk", r, map[string]any{"verdict": v.Level.String(), "findings": len(v.Findings)}); err != nil {
		return err
	}
	if v.Level >= risk.Blocked {
		r.State, r.Reason = Blocked, "the risk analysis BLOCKED it"
		return errors.Join(ErrBlocked, s.save(ctx, r))
	}
	s.step(r.ID, "review")
	if err := s.review(ctx, r); err != nil {
		return err
	}
	if r.Review.Verdict == review.Reject && !r.Flags.DespiteReview {
		r.State, r.Reason = Rejected, "the reviewer rejected it: "+r.Review.Summary
		return errors.Join(ErrRejected, s.save(ctx, r))
	}
	s.step(r.ID, "check")
	c := s.check(ctx, r.Repo, wt, r.Base)
	r.Checks = &c
	if err := s.record(ctx, "mai", "selfmod.check", r, map[string]any{"status": c.Status, "exit_code": c.ExitCode, "image": c.Image}); err != nil {
		return err
	}
	s.step(r.ID, "request")
	return s.request(ctx, r, "")
}

// materialize writes the change (or the revert) into the worktree and
// stores its exact diff.
func (s *Service) materialize(ctx context.Context, r *Record, wt string, p Proposal) error {
	if p.Revert != "" {
		if _, err := git(ctx, wt, nil, "revert", "--no-commit", p.Revert); err != nil {
			return fmt.Errorf("revert %s: %w", p.Revert, err)
		}
	} else if err := writeChanges(wt, p.Changes); err != nil {
		return err
	}
	tree, diff, err := stagedDiff(ctx, wt, r.Base)
	if err != nil {
		return err
	}
	if strings.TrimSpace(diff) == "" {
		return ErrEmpty
	}
	r.Tree, r.Diff, r.DiffSHA256 = tree, diff, hashOf(diff)
	if p.Revert != "" {
		names, err := changedFiles(ctx, wt, r.Base)
		if err != nil {
			return err
		}
		for _, n := range names {
			r.Changes = append(r.Changes, Change{Path: n})
		}
	}
	return s.save(ctx, r)
}

// analyze judges every changed code file as it is in the worktree (the
// proposal's files, or those a revert touches); the highest level wins and
// each finding names its file.
func (s *Service) analyze(ctx context.Context, wt, base string, p Proposal) (risk.Verdict, error) {
	var names []string
	for _, c := range p.Changes {
		names = append(names, c.Path)
	}
	if p.Revert != "" {
		var err error
		if names, err = changedFiles(ctx, wt, base); err != nil {
			return risk.Verdict{}, err
		}
	}
	a := risk.Analyzer{Policy: s.policy()}
	merged := risk.Verdict{Parsed: true}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(wt, filepath.FromSlash(n)))
		if os.IsNotExist(err) {
			continue // deleted
		} else if err != nil {
			return merged, err
		}
		lang := codeLang(n, data)
		if lang == "" {
			continue
		}
		v := a.Analyze(ctx, lang, n, data)
		merged.Level = max(merged.Level, v.Level)
		merged.Parsed = merged.Parsed && v.Parsed
		merged.Duration += v.Duration
		for _, f := range v.Findings {
			f.Reason = n + ": " + f.Reason
			merged.Findings = append(merged.Findings, f)
		}
		if merged.Lang == "" {
			merged.Lang = lang
		}
	}
	return merged, nil
}

// codeLang recognises code by extension or shebang; the check script is
// shell.
func codeLang(name string, data []byte) risk.Lang {
	switch path.Ext(name) {
	case ".py":
		return risk.Python
	case ".sh", ".bash":
		return risk.Shell
	case ".go":
		return risk.Go
	}
	if line, _, _ := strings.Cut(string(data), "\n"); strings.HasPrefix(line, "#!") {
		if strings.Contains(line, "python") {
			return risk.Python
		}
		return risk.Shell
	}
	if name == checkFile {
		return risk.Shell
	}
	return ""
}

// review asks the second agent; a missing reviewer or a failed review is
// "unavailable", which never counts as approval.
func (s *Service) review(ctx context.Context, r *Record) error {
	res := review.Result{Verdict: review.Unavailable, Concerns: []string{}, Reviewer: "none", Error: "no reviewer is configured"}
	if s.o.Reviewer != nil {
		diff := r.Diff
		if len(diff) > maxReviewDiff {
			diff = diff[:maxReviewDiff] + "\n[diff cut at 32 KiB]\n"
		}
		var err error
		res, err = s.o.Reviewer.Review(ctx, review.Change{Repo: r.Repo, Subject: r.Subject, Rationale: r.Rationale,
			Request: r.Request, Risk: riskText(r.Risk), Diff: diff})
		if err != nil {
			return fmt.Errorf("review: %w", err)
		}
	}
	r.Review = &res
	return s.record(ctx, "mai", "selfmod.review", r, map[string]any{"verdict": res.Verdict, "reviewer": res.Reviewer,
		"concerns": len(res.Concerns), "error": res.Error})
}

func riskText(v *risk.Verdict) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(v.Level.String())
	for _, f := range v.Findings {
		fmt.Fprintf(&b, "; %s %s line %d: %s", f.Level, f.Rule, f.Line, f.Reason)
	}
	return b.String()
}

// request asks the owner to approve the exact diff; supersedes names the
// earlier request this one replaces (after a rebase).
func (s *Service) request(ctx context.Context, r *Record, supersedes string) error {
	reviewJSON, checksJSON := mustJSON(r.Review), mustJSON(r.Checks)
	a, err := s.o.Approvals.Create(ctx, approval.NewRequest{Kind: approval.KindSelfMod, Summary: Summary(*r), Payload: []byte(r.Diff),
		Verdict: r.Risk, Review: []byte(reviewJSON), Checks: []byte(checksJSON), Requester: r.Requester, Supersedes: supersedes})
	if err != nil {
		return err
	}
	r.ApprovalID, r.State = a.ID, Pending
	if err := s.save(ctx, r); err != nil {
		return err
	}
	return s.record(ctx, "mai", "selfmod.request", r, map[string]any{"approval_id": a.ID})
}

// Summary is the one line the owner's request is shown with.
func Summary(r Record) string {
	add, del := diffStat(r.Diff)
	s := fmt.Sprintf("change %s: %s (%d files, +%d −%d); risk %s; review %s; checks %s", r.Repo, r.Subject, len(r.Changes), add, del,
		levelOf(r), verdictOf(r), checkStatus(r))
	if r.Flags.DespiteReview {
		s += "; offered despite the review"
	}
	if r.Flags.DespiteChecks {
		s += "; commits despite failing checks"
	}
	return s
}

func diffStat(diff string) (add, del int) {
	for _, l := range strings.Split(diff, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			add++
		case strings.HasPrefix(l, "-"):
			del++
		}
	}
	return add, del
}

func levelOf(r Record) string {
	if r.Risk == nil {
		return "-"
	}
	return r.Risk.Level.String()
}

func verdictOf(r Record) string {
	if r.Review == nil || !r.Review.Available() {
		return "none available"
	}
	return string(r.Review.Verdict)
}

func checkStatus(r Record) string {
	if r.Checks == nil {
		return "-"
	}
	return r.Checks.Status
}
