package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/risk"
)

// Approver decides whether a HIGH-risk job may run. The terminal approver
// is in this package; internal/approval implements it with persisted
// requests that the terminal, Discord and the control socket decide.
type Approver interface {
	// Approve returns the decision; an error means no decision was made
	// (and the job does not run).
	Approve(ctx context.Context, req ApprovalRequest) (Approval, error)
}

// ApprovalRequest is what an approver is shown.
type ApprovalRequest struct {
	JobID    string
	Language string
	Entry    string
	Source   []byte // the entry file
	Verdict  risk.Verdict
}

// Approval is an approver's decision, recorded in the Result.
type Approval struct {
	Approved bool      `json:"approved"`
	By       string    `json:"by"` // "terminal", "--yes", "discord:<user>"
	At       time.Time `json:"at"`
	// ID is the approval request's id, when the approver keeps requests.
	ID string `json:"id,omitempty"`
}

// RefusedError is returned for a job the gate would not run: BLOCKED, or
// HIGH without approval. It wraps ErrRefused.
type RefusedError struct {
	Verdict risk.Verdict
	Reason  string
	// Cause is why no approval was obtained (no terminal, the approver
	// failed, the context ended), when that is the reason.
	Cause error
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Verdict.Level, e.Reason)
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	for _, f := range e.Verdict.Findings {
		if f.Level >= risk.High {
			fmt.Fprintf(&b, "; %s (line %d): %s", f.Rule, f.Line, f.Reason)
		}
	}
	return b.String()
}

func (e *RefusedError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrRefused, e.Cause}
	}
	return []error{ErrRefused}
}

// Run is the only way code reaches Docker: it analyses every code file of
// the job with risk.Analyze, runs LOW and MEDIUM (the verdict, with its
// findings, is in Result.Risk), asks the Approver about HIGH, and refuses
// BLOCKED always. A refusal returns a *RefusedError and creates nothing on
// the engine.
func (s *Sandbox) Run(ctx context.Context, job Job) (Result, error) {
	p, err := s.exec.prepare(job)
	if err != nil {
		return Result{JobID: job.ID}, err
	}
	// Take a pre-staged container now, so the approver sees the final job id;
	// a job that does not run gives it back.
	p = s.exec.pool.take(p)
	ran := false
	defer func() {
		if !ran {
			s.exec.pool.give(p)
		}
	}()
	verdict := analyze(ctx, s.policy, p)
	res := Result{JobID: p.job.ID, Image: p.image, ExitCode: -1, Risk: &verdict}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	switch verdict.Level {
	case risk.Low, risk.Medium:
	case risk.High:
		if s.approver == nil {
			return res, &RefusedError{Verdict: verdict, Reason: "this code needs approval to run and no approver is set"}
		}
		a, err := s.approver.Approve(ctx, ApprovalRequest{
			JobID: p.job.ID, Language: p.lang.name, Entry: p.entry,
			Source: p.job.Files[p.entry], Verdict: verdict,
		})
		if err != nil {
			return res, &RefusedError{Verdict: verdict, Reason: "this code needs approval to run and none was given", Cause: err}
		}
		res.Approval = &a
		if !a.Approved {
			return res, &RefusedError{Verdict: verdict, Reason: "approval was denied by " + a.By}
		}
	default: // BLOCKED, and any level added later, never runs
		return res, &RefusedError{Verdict: verdict, Reason: "this code is never run"}
	}
	ran = true
	out, err := s.exec.run(ctx, p)
	out.Risk, out.Approval = res.Risk, res.Approval
	return out, err
}

// analyze judges every code file of the job and merges the verdicts: the
// highest level wins; with several files each finding's reason names its
// file. The workspace's risk policy, when there is one, adjusts rule levels
// (never below HIGH for BLOCKED rules; see risk.Policy). Files that are neither the entry nor recognisably code (by
// extension or shebang) are data and are not analysed.
func analyze(ctx context.Context, policy *risk.Policy, p prepared) risk.Verdict {
	analyzer := risk.Analyzer{Policy: policy}
	entryLang, _ := risk.ParseLang(p.lang.name)
	merged := risk.Verdict{Lang: entryLang, Parsed: true}
	var names []string
	names = append(names, p.entry)
	for name, data := range p.job.Files {
		if name != p.entry && isCode(name, data) {
			names = append(names, name)
		}
	}
	multi := len(names) > 1
	for _, name := range names {
		lang := entryLang
		if name != p.entry {
			// "" when only a shebang says it is code: Analyze detects the
			// language, and one it cannot tell is HIGH.
			lang = risk.Declared(name, p.job.Files[name])
		}
		v := analyzer.Analyze(ctx, lang, name, p.job.Files[name])
		merged.Level = max(merged.Level, v.Level)
		merged.Parsed = merged.Parsed && v.Parsed
		merged.Duration += v.Duration
		for _, f := range v.Findings {
			if multi {
				f.Reason = name + ": " + f.Reason
			}
			merged.Findings = append(merged.Findings, f)
		}
	}
	return merged
}

// isCode reports whether a file that is not the entry is code to judge:
// its name or shebang declares a language, or it has a shebang at all (an
// interpreter the analyser does not know is not a reason to skip it).
// Anything else is data.
func isCode(name string, data []byte) bool {
	return risk.Declared(name, data) != "" || bytes.HasPrefix(data, []byte("#!"))
}

// IsRefused reports whether err is the gate refusing a job, and returns
// the refusal.
func IsRefused(err error) (*RefusedError, bool) {
	var re *RefusedError
	ok := errors.As(err, &re)
	return re, ok
}
