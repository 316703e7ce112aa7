package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/review"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/selfmod"
)

// The synopsis of each selfmod subcommand.
const (
	selfmodProposeSynopsis = "selfmod propose [--repo workspace|source] --message TEXT [--subject LINE] [--rationale TEXT] [--no-wait] [--wait 10m] [--despite-review] [--despite-checks] [--pin-stdin] SRC:DEST…"
	selfmodListSynopsis    = "selfmod list [--json]"
	selfmodShowSynopsis    = "selfmod show ID [--json]"
	selfmodRevertSynopsis  = "selfmod revert [--repo workspace|source] [--no-wait] [--wait 10m] [--pin-stdin] COMMIT"
)

const selfmodExamples = "  mai selfmod propose --message 'a warmer persona' new-persona.md:persona.md   # review, ./check, then asks you\n" +
	"  mai selfmod propose --no-wait --message 'add a skill' wc.sh:skills/wc.sh      # print the id; decide later\n" +
	"  mai approvals approve k3m9q2xa                                                # the owner's yes: the commit is made\n" +
	"  mai selfmod list\n" +
	"  mai selfmod show p3m9q2x                                                      # diff, risk, review, checks, state\n" +
	"  mai selfmod revert 1a2b3c4                                                    # undo a commit, through the same pipeline"

func selfmodCommand() command {
	return command{name: "selfmod", summary: "propose, list, show or revert changes to Mai's workspace or source (review, checks, your approval, a commit)",
		config: true, examples: selfmodExamples, subs: []command{
			{name: "propose", summary: "propose a change: review, checks, then your approval and a commit", run: (*Main).selfmodPropose},
			{name: "list", summary: "proposals, newest first", run: (*Main).selfmodList},
			{name: "show", summary: "one proposal: diff, risk, review, checks, state", run: (*Main).selfmodShow},
			{name: "revert", summary: "propose to undo a commit, through the same pipeline", run: (*Main).selfmodRevert},
		}}
}

// selfmodTarget is the repository --repo names, from the configuration.
func (m *Main) selfmodTarget(name string) (selfmod.Target, error) {
	switch name {
	case selfmod.Workspace:
		return selfmod.Target{Name: name, Path: m.cfg.Workspace}, nil
	case selfmod.Source:
		if m.cfg.SourceRepo == "" {
			return selfmod.Target{}, fmt.Errorf("%w: --repo source needs MAI_SOURCE_REPO, a git checkout of Mai's source", errUsage)
		}
		return selfmod.Target{Name: name, Path: m.cfg.SourceRepo}, nil
	}
	return selfmod.Target{}, fmt.Errorf("%w: --repo %q: want workspace or source", errUsage, name)
}

// openSelfmod wires the pipeline: the ledger, the configured reviewer
// (when reviewing: settling a decision needs none), the sandbox for checks
// (checks are "unavailable" when Docker is not), and recovers what a crash
// left.
func (m *Main) openSelfmod(ctx context.Context, reviewing bool) (*selfmod.Service, *ledger, func(), error) {
	l, err := m.openLedger(ctx, terminalListener{m})
	if err != nil {
		return nil, nil, nil, err
	}
	closers := []func(){func() { l.close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	var model review.Model
	if reviewing {
		var closeModel func()
		if model, closeModel, err = m.reviewModel(ctx); err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		closers = append(closers, closeModel)
	}
	o, closeChecks, err := m.selfmodOptions(ctx, l, model, nil, func(err error) { fmt.Fprintf(m.Stderr, "mai: checks will be unavailable: %v\n", err) })
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	closers = append(closers, closeChecks)
	o.Step = func(_, step string) { fmt.Fprintf(m.Stderr, "mai: selfmod: %s\n", step) }
	svc, err := selfmod.New(o)
	if err == nil {
		err = svc.Recover(ctx)
	}
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return svc, l, closeAll, nil
}

func (m *Main) selfmodPropose(ctx context.Context, args []string) error {
	fs := m.newFlagSet("selfmod propose", selfmodProposeSynopsis, selfmodExamples)
	repo := fs.String("repo", selfmod.Workspace, "the repository to change: workspace (MAI_WORKSPACE) or source (MAI_SOURCE_REPO)")
	message := fs.String("message", "", "what you ask for (recorded in the commit)")
	subject := fs.String("subject", "", "the commit's subject line (default: the message's first line)")
	rationale := fs.String("rationale", "", "why (recorded in the commit)")
	noWait := fs.Bool("no-wait", false, "print the proposal id and return; after your approval the running daemon or the next selfmod command commits it")
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for the decision")
	despiteReview := fs.Bool("despite-review", false, "offer the change for approval even if the reviewer rejects it")
	despiteChecks := fs.Bool("despite-checks", false, "commit on approval even if the checks fail")
	pinStdin := pinFlag(fs)
	rest, err := m.parse(fs, args, anyOperands)
	if err != nil {
		return err
	}
	if *message == "" || len(rest) == 0 {
		return fmt.Errorf("%w: give --message and at least one SRC:DEST (a local file and its path in the repository)", errUsage)
	}
	target, err := m.selfmodTarget(*repo)
	if err != nil {
		return err
	}
	changes, err := m.readChanges(rest)
	if err != nil {
		return err
	}
	if *subject == "" {
		*subject, _, _ = strings.Cut(strings.TrimSpace(*message), "\n")
	}
	if err := m.requirePIN(ctx, m.pinInput(*pinStdin)); err != nil {
		return err
	}
	p := selfmod.Proposal{Target: target, Subject: *subject, Rationale: *rationale, Request: *message, RequestedIn: "cli",
		Requester: approval.LocalOwner, Changes: changes, Flags: selfmod.Flags{DespiteReview: *despiteReview, DespiteChecks: *despiteChecks}}
	return m.proposeAndWait(ctx, *noWait, *wait, func(ctx context.Context, svc *selfmod.Service) (selfmod.Record, error) {
		return svc.Propose(ctx, p)
	})
}

// readChanges reads each SRC:DEST; an empty SRC (":DEST") deletes DEST.
func (m *Main) readChanges(args []string) ([]selfmod.Change, error) {
	var out []selfmod.Change
	for _, a := range args {
		src, dest, ok := strings.Cut(a, ":")
		if !ok || dest == "" {
			return nil, fmt.Errorf("%w: %q: want SRC:DEST, a local file and its path in the repository (:DEST deletes DEST)", errUsage, a)
		}
		if src == "" {
			out = append(out, selfmod.Change{Path: dest, Delete: true})
			continue
		}
		b, err := os.ReadFile(m.path(src))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		out = append(out, selfmod.Change{Path: dest, Content: b})
	}
	return out, nil
}

// proposeAndWait runs the pipeline, prints the proposal and, unless
// noWait, waits for the owner's decision and prints the outcome.
func (m *Main) proposeAndWait(ctx context.Context, noWait bool, wait time.Duration, propose func(context.Context, *selfmod.Service) (selfmod.Record, error)) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	svc, l, closeAll, err := m.openSelfmod(ctx, true)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := m.printSettled(svc.Settle(ctx)); err != nil {
		fmt.Fprintf(m.Stderr, "mai: warning: completing decided proposals: %v\n", err)
	}
	r, err := propose(ctx, svc)
	if r.ID != "" {
		m.printProposal(r, false)
	}
	if errors.Is(err, selfmod.ErrRejected) {
		return fmt.Errorf("%w; not offered for approval (propose again with --despite-review to be asked anyway)", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "proposal %s waits for approval request %s: 'mai approvals approve %s' or 'mai approvals deny %s'\n",
		r.ID, r.ApprovalID, r.ApprovalID, r.ApprovalID)
	if noWait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if isTerminal(m.Stdin) && isTerminal(m.Stderr) {
		if a, err := l.approvals.Get(ctx, r.ApprovalID); err == nil {
			go m.promptDecision(wctx, l, a)
		}
	}
	r, err = svc.Wait(wctx, r.ID)
	if err != nil && wctx.Err() != nil {
		return fmt.Errorf("no decision yet on %s; it stays pending: approve it with 'mai approvals approve %s', and the next 'mai selfmod' command commits it", r.ID, r.ApprovalID)
	}
	if err != nil {
		return err
	}
	switch r.State {
	case selfmod.Committed:
		fmt.Fprintf(m.Stdout, "committed %s on %s in %s\n", shortID(r.Commit), r.Branch, r.RepoPath)
		return nil
	default:
		fmt.Fprintf(m.Stdout, "%s: %s\n", r.State, r.Reason)
		return exitError{code: 1}
	}
}

func (m *Main) selfmodRevert(ctx context.Context, args []string) error {
	fs := m.newFlagSet("selfmod revert", selfmodRevertSynopsis, selfmodExamples)
	repo := fs.String("repo", selfmod.Workspace, "the repository: workspace or source")
	noWait := fs.Bool("no-wait", false, "print the proposal id and return")
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for the decision")
	pinStdin := pinFlag(fs)
	rest, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: revert takes one COMMIT (see 'git log' in the repository)", errUsage)
	}
	target, err := m.selfmodTarget(*repo)
	if err != nil {
		return err
	}
	if err := m.requirePIN(ctx, m.pinInput(*pinStdin)); err != nil {
		return err
	}
	return m.proposeAndWait(ctx, *noWait, *wait, func(ctx context.Context, svc *selfmod.Service) (selfmod.Record, error) {
		return svc.Revert(ctx, target, rest[0], approval.LocalOwner)
	})
}

// selfmodRead opens the proposals read-only (no recovery: reading creates
// and changes nothing).
func (m *Main) selfmodRead(ctx context.Context) (*selfmod.Service, func(), error) {
	l, err := m.openReadLedger(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc, err := selfmod.New(selfmod.Options{DB: l.db.DB, Approvals: l.approvals})
	if err != nil {
		l.close()
		return nil, nil, err
	}
	return svc, func() { l.close() }, nil
}

func (m *Main) selfmodList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("selfmod list", selfmodListSynopsis, selfmodExamples)
	asJSON := fs.Bool("json", false, "print a JSON array of proposals (without diffs)")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	svc, closeFn, err := m.selfmodRead(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	list, err := svc.List(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			list = []selfmod.Record{}
		} else {
			return err
		}
	}
	if *asJSON {
		for i := range list {
			list[i].Diff = ""
			list[i].Changes = stripContent(list[i].Changes)
		}
		return m.writeJSON(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(m.Stdout, "No proposals.")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tREPO\tCREATED\tAPPROVAL\tCOMMIT\tSUBJECT")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Repo, r.Created.Local().Format("2006-01-02 15:04"),
			dash(r.ApprovalID), dash(shortID(r.Commit)), oneLine(r.Subject, 60))
	}
	return tw.Flush()
}

func stripContent(cs []selfmod.Change) []selfmod.Change {
	out := make([]selfmod.Change, len(cs))
	for i, c := range cs {
		out[i] = selfmod.Change{Path: c.Path, Delete: c.Delete}
	}
	return out
}

func (m *Main) selfmodShow(ctx context.Context, args []string) error {
	fs := m.newFlagSet("selfmod show", selfmodShowSynopsis, selfmodExamples)
	asJSON := fs.Bool("json", false, "print the proposal with its diff, risk, review and checks as JSON")
	rest, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: show takes one proposal ID (see 'mai selfmod list')", errUsage)
	}
	svc, closeFn, err := m.selfmodRead(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	r, err := svc.Get(ctx, rest[0])
	if errors.Is(err, selfmod.ErrNotFound) || (err != nil && strings.Contains(err.Error(), "no such table")) {
		return fmt.Errorf("there is no proposal %s: list them with 'mai selfmod list'", rest[0])
	}
	if err != nil {
		return err
	}
	if *asJSON {
		r.Changes = stripContent(r.Changes)
		return m.writeJSON(r)
	}
	m.printProposal(r, true)
	return nil
}

// printProposal shows a proposal: state, risk, review, checks, and with
// diff its whole diff.
func (m *Main) printProposal(r selfmod.Record, diff bool) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "proposal\t%s\nstate\t%s\nrepository\t%s (%s, branch %s)\nsubject\t%s\n", r.ID, r.State, r.Repo, r.RepoPath, r.Branch, r.Subject)
	if r.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", r.Reason)
	}
	fmt.Fprintf(tw, "approval\t%s\ncommit\t%s\nchange sha256\t%s\n", dash(r.ApprovalID), dash(r.Commit), dash(r.DiffSHA256))
	tw.Flush()
	if r.Risk != nil {
		fmt.Fprintf(m.Stdout, "risk: %s\n", r.Risk.Level)
		printFindings(m.Stdout, r.Risk.Findings)
	}
	if rv := r.Review; rv != nil {
		fmt.Fprintf(m.Stdout, "review (%s): %s %s\n", rv.Reviewer, rv.Verdict, rv.Summary)
		if rv.Error != "" {
			fmt.Fprintf(m.Stdout, "  %s\n", rv.Error)
		}
		for _, c := range rv.Concerns {
			fmt.Fprintf(m.Stdout, "  - %s\n", c)
		}
	}
	if c := r.Checks; c != nil {
		fmt.Fprintf(m.Stdout, "checks: %s %s (exit %d) %s\n", c.Status, c.Command, c.ExitCode, c.Note)
		if c.Output != "" {
			fmt.Fprintf(m.Stdout, "%s\n", strings.TrimRight(c.Output, "\n"))
		}
	}
	if diff {
		fmt.Fprintf(m.Stdout, "--- diff (%d bytes) ---\n%s--- end of diff ---\n", len(r.Diff), r.Diff)
	}
}

// settleSelfmod completes the proposals whose requests are decided (after
// 'mai approvals approve' of a self-modification): the commit is made, or
// the proposal discarded, at once.
func (m *Main) settleSelfmod(ctx context.Context) error {
	svc, _, closeAll, err := m.openSelfmod(ctx, false)
	if err != nil {
		return err
	}
	defer closeAll()
	return m.printSettled(svc.Settle(ctx))
}

// printSettled says what became of each completed proposal.
func (m *Main) printSettled(done []selfmod.Record, err error) error {
	for _, r := range done {
		switch r.State {
		case selfmod.Committed:
			fmt.Fprintf(m.Stdout, "proposal %s committed %s on %s in %s\n", r.ID, shortID(r.Commit), r.Branch, r.RepoPath)
		case selfmod.Pending:
			fmt.Fprintf(m.Stdout, "proposal %s was rebased and needs a new approval: request %s\n", r.ID, r.ApprovalID)
		default:
			fmt.Fprintf(m.Stdout, "proposal %s %s: %s\n", r.ID, r.State, r.Reason)
		}
	}
	return err
}

// reviewModel is the configured reviewer's model: the router's for local,
// nil for none.
func (m *Main) reviewModel(ctx context.Context) (review.Model, func(), error) {
	if m.cfg.Reviewer != "local" {
		model, err := m.remoteReviewer()
		return model, func() {}, err
	}
	ms, err := m.openModels(ctx, readWrite)
	if err != nil {
		return nil, nil, err
	}
	return review.Local{Chat: ms.router}, ms.close, nil
}

// selfmodOptions are the pipeline's parts over the ledger l: the reviewer
// (none when model is nil), the workspace's risk policy, and a sandbox for
// the checks whose HIGH-risk code runs isolated (see selfmod.CheckApprover):
// checks when given (the daemon's shared sandbox), else one opened here;
// without Docker, noSandbox is told and checks are unavailable.
func (m *Main) selfmodOptions(ctx context.Context, l *ledger, model review.Model, checks selfmod.Checker, noSandbox func(error)) (selfmod.Options, func(), error) {
	policy, err := risk.LoadWorkspacePolicy(m.cfg.Workspace)
	if err != nil {
		return selfmod.Options{}, nil, fmt.Errorf("risk policy: %w", err)
	}
	o := selfmod.Options{DB: l.db.DB, Approvals: l.approvals, Audit: l.log, Policy: policy, GoImage: m.cfg.SandboxGoImage,
		CheckImage: m.cfg.SandboxImage, Dir: filepath.Join(m.cfg.DataDir, "selfmod")}
	if model != nil {
		o.Reviewer = review.Reviewer{Model: model}
	}
	if checks != nil {
		o.Checker = checks
		// The daemon's sandbox holds the policy SIGHUP reloads.
		if live, ok := checks.(interface{ Policy() *risk.Policy }); ok {
			o.PolicyOf = live.Policy
		}
		return o, func() {}, nil
	}
	opts := m.sandboxOptions()
	opts.Approver, opts.Policy = selfmod.CheckApprover{}, policy
	sb, err := sandbox.New(ctx, opts)
	if err != nil {
		noSandbox(err)
		return o, func() {}, nil
	}
	o.Checker = sb
	return o, func() { sb.Close() }, nil
}

// workspaceProposer is the chat core's propose_change: the model's change
// to the workspace goes through the pipeline and waits for the owner
// ('mai approvals approve' commits it).
type workspaceProposer struct {
	svc       *selfmod.Service
	workspace string
}

func (w workspaceProposer) ProposeChange(ctx context.Context, c chat.ChangeRequest) (string, error) {
	p := selfmod.Proposal{Target: selfmod.Target{Name: selfmod.Workspace, Path: w.workspace}, Subject: c.Subject, Rationale: c.Rationale,
		Request: c.Request, RequestedIn: fmt.Sprintf("message %d", c.MessageID), Requester: "mai"}
	for _, f := range c.Files {
		p.Changes = append(p.Changes, selfmod.Change{Path: f.Path, Content: []byte(f.Content), Delete: f.Delete})
	}
	r, err := w.svc.Propose(ctx, p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("proposal %s waits for the owner's approval (request %s: %s)", r.ID, r.ApprovalID, selfmod.Summary(r)), nil
}

// chatProposer builds propose_change for the chat core over r (the local
// reviewer's router), its checks run by checks when given; nil when the
// pipeline cannot be set up, which the log says.
func (m *Main) chatProposer(ctx context.Context, l *ledger, r *router.Router, log zerolog.Logger, checks selfmod.Checker) (chat.ChangeProposer, func()) {
	var model review.Model = review.Local{Chat: r}
	if m.cfg.Reviewer != "local" {
		var err error
		if model, err = m.remoteReviewer(); err != nil {
			log.Warn().Err(err).Msg("propose_change is off")
			return nil, func() {}
		}
	}
	o, closeChecks, err := m.selfmodOptions(ctx, l, model, checks, func(err error) { log.Warn().Err(err).Msg("self-modification checks are unavailable") })
	if err != nil {
		log.Warn().Err(err).Msg("propose_change is off")
		return nil, func() {}
	}
	svc, err := selfmod.New(o)
	if err == nil {
		err = svc.Recover(ctx)
	}
	if err != nil {
		closeChecks()
		log.Warn().Err(err).Msg("propose_change is off")
		return nil, func() {}
	}
	// Proposals decided while Mai was stopped are completed now.
	done, err := svc.Settle(ctx)
	for _, r := range done {
		log.Info().Str("proposal", r.ID).Str("state", string(r.State)).Str("commit", r.Commit).Msg("self-modification settled")
	}
	if err != nil {
		log.Warn().Err(err).Msg("completing decided self-modifications")
	}
	return workspaceProposer{svc: svc, workspace: m.cfg.Workspace}, closeChecks
}
