// Package selfmod is the one way Mai changes itself — its workspace
// (persona, skills, risk policy) or, when configured, its own source:
// validate the paths → risk analysis of every changed code file (BLOCKED
// stops there) → review by a second agent → apply in a temporary git
// worktree → the target branch's own check in the sandbox → an approval
// request bound to the SHA-256 of the exact diff → on approval, a commit
// that carries the whole decision in its body and trailers. Every step is
// an audit entry; a crash at any step is completed or rolled back by
// Recover, never left half-applied.
package selfmod

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"time"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/review"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
)

// Repository names.
const (
	Workspace = "workspace"
	Source    = "source"
)

// Target is a repository Mai may change.
type Target struct {
	Name string // Workspace or Source
	Path string // the repository's folder (its main worktree)
	// Branch is the branch that receives the commit; the checked-out
	// branch when empty.
	Branch string
}

// Change is one file as proposed: its whole new content, or its removal.
type Change struct {
	Path    string `json:"path"`
	Content []byte `json:"content,omitempty"`
	Delete  bool   `json:"delete,omitempty"`
}

// Proposal is a change Mai (or the owner) asks to make.
type Proposal struct {
	Target      Target
	Subject     string // the commit's subject line
	Rationale   string
	Request     string // the message that asked for it
	RequestedIn string // that message's id ("cli" from the command line)
	Requester   string // who proposes: "mai", "local"
	Changes     []Change
	// Revert, instead of Changes, names a commit whose change is undone.
	Revert string
	Flags  Flags
}

// Flags are the explicit overrides the owner may ask for.
type Flags struct {
	// DespiteReview offers a change for approval although the reviewer
	// rejected it.
	DespiteReview bool `json:"despite_review,omitempty"`
	// DespiteChecks commits an approved change although its checks failed.
	DespiteChecks bool `json:"despite_checks,omitempty"`
}

// State is where a proposal stands.
type State string

const (
	Preparing  State = "preparing"  // in the pipeline, before the approval request
	Blocked    State = "blocked"    // BLOCKED by the risk analysis; final
	Rejected   State = "rejected"   // the reviewer rejected it; final
	Pending    State = "pending"    // waits for the owner
	Committing State = "committing" // approved; the commit is being made
	Committed  State = "committed"  // final
	Denied     State = "denied"     // denied, expired or withdrawn; final
	Superseded State = "superseded" // replaced by a later proposal or made stale; final
	Failed     State = "failed"     // could not be completed; final
)

// Checks is what the repository's check said.
type Checks struct {
	// Status is passed, failed, blocked (the check itself is BLOCKED and
	// never ran) or unavailable (no check, no image, no sandbox).
	Status   string        `json:"status"`
	Command  string        `json:"command,omitempty"`
	Image    string        `json:"image,omitempty"`
	ExitCode int           `json:"exit_code"`
	Output   string        `json:"output,omitempty"` // stdout then stderr, capped
	Risk     *risk.Verdict `json:"risk,omitempty"`   // the check's own verdict
	Base     string        `json:"base"`             // the commit the check came from
	Note     string        `json:"note,omitempty"`
}

// Record is a stored proposal.
type Record struct {
	ID          string         `json:"id"`
	Repo        string         `json:"repo"`
	RepoPath    string         `json:"repo_path"`
	Branch      string         `json:"branch"`
	Base        string         `json:"base"`
	Subject     string         `json:"subject"`
	Rationale   string         `json:"rationale,omitempty"`
	Request     string         `json:"request,omitempty"`
	RequestedIn string         `json:"requested_in,omitempty"`
	Requester   string         `json:"requester"`
	Changes     []Change       `json:"changes"`
	Revert      string         `json:"revert,omitempty"`
	Diff        string         `json:"diff"`
	DiffSHA256  string         `json:"diff_sha256"`
	Risk        *risk.Verdict  `json:"risk,omitempty"`
	Review      *review.Result `json:"review,omitempty"`
	Checks      *Checks        `json:"checks,omitempty"`
	Flags       Flags          `json:"flags"`
	ApprovalID  string         `json:"approval_id,omitempty"`
	State       State          `json:"state"`
	Reason      string         `json:"reason,omitempty"`
	Commit      string         `json:"commit,omitempty"`
	Tree        string         `json:"tree,omitempty"` // the proposed tree's object id
	Worktree    string         `json:"-"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
}

// Reviewer reads a change before the owner does (review.Reviewer).
type Reviewer interface {
	Review(ctx context.Context, c review.Change) (review.Result, error)
}

// Checker runs a check job in the sandbox (*sandbox.Sandbox). Its gate
// refuses BLOCKED code; the isolation is what lets a check run before the
// owner has decided.
type Checker interface {
	Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error)
}

// Auditor records every step (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, recs ...audit.Record) ([]audit.Entry, error)
}

// Options configure a Service.
type Options struct {
	DB        *sql.DB
	Approvals *approval.Service
	Audit     Auditor
	Reviewer  Reviewer
	// Checker runs checks; without one they are "unavailable".
	Checker Checker
	// CheckImage is the image ./check runs in (the sandbox's default when
	// empty); GoImage is the Go-capable image for the source repository,
	// whose checks are unavailable without it.
	CheckImage, GoImage string
	Policy              *risk.Policy
	// PolicyOf, when set, returns the policy in force now and is asked
	// at every analysis instead of Policy: the daemon's policy, which
	// SIGHUP reloads.
	PolicyOf func() *risk.Policy
	// Dir holds the temporary worktrees and the lock; Recover empties it.
	// Created when first needed; a Service that only reads needs none.
	Dir string
	// Step, when set, is told each step as it starts: progress for the
	// CLI, and the place a crash test stops a child process.
	Step func(id, step string)
	Now  func() time.Time
}

// Service runs the pipeline.
type Service struct{ o Options }

// policy is the risk policy in force now.
func (s *Service) policy() *risk.Policy {
	if s.o.PolicyOf != nil {
		return s.o.PolicyOf()
	}
	return s.o.Policy
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Approvals == nil {
		return nil, errors.New("selfmod: a database and the approval service are needed")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}, nil
}

// Errors a caller branches on.
var (
	ErrNotFound = errors.New("no such proposal")
	ErrBlocked  = errors.New("the risk analysis BLOCKED the change")
	ErrRejected = errors.New("the reviewer rejected the change")
	ErrEmpty    = errors.New("the proposal changes nothing")
)

func (s *Service) step(id, name string) {
	if s.o.Step != nil {
		s.o.Step(id, name)
	}
}

// record writes one audit entry about proposal r.
func (s *Service) record(ctx context.Context, actor, action string, r *Record, details map[string]any) error {
	if s.o.Audit == nil {
		return nil
	}
	if details == nil {
		details = map[string]any{}
	}
	details["repo"], details["base"] = r.Repo, r.Base
	if r.Commit != "" {
		details["commit"] = r.Commit
	}
	if r.DiffSHA256 != "" {
		details["change_sha256"] = r.DiffSHA256
	}
	_, err := s.o.Audit.Append(context.WithoutCancel(ctx), audit.Record{Actor: actor, Action: action, Subject: r.ID, Details: details})
	return err
}

func (s *Service) worktreeDir(id, purpose string) string {
	return filepath.Join(s.o.Dir, id+"-"+purpose)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
