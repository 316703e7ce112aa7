package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/sandbox"
)

const approvalsExamples = "  mai approvals list --state pending     # what waits for your decision\n" +
	"  mai approvals show k3m9q2xa            # the full payload and its SHA-256\n" +
	"  mai approvals approve k3m9q2xa         # run it (asks for the PIN when one is stored)\n" +
	"  mai approvals deny k3m9q2xa --reason 'not on this machine'"

// approvalsCommand is the approvals group.
func approvalsCommand() command {
	return command{name: "approvals", summary: "list, show, approve or deny what waits for the owner's decision", config: true, examples: approvalsExamples,
		subs: []command{
			{name: "list", summary: "requests, newest first", run: (*Main).approvalsList},
			{name: "show", summary: "one request with its full payload and SHA-256", run: (*Main).approvalsShow},
			{name: "approve", summary: "approve a pending request", run: func(m *Main, ctx context.Context, args []string) error { return m.approvalsDecide(ctx, true, args) }},
			{name: "deny", summary: "deny a pending request", run: func(m *Main, ctx context.Context, args []string) error { return m.approvalsDecide(ctx, false, args) }},
		}}
}

func (m *Main) approvalsList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("approvals list", "approvals list [--state S] [--json]", approvalsExamples)
	state := fs.String("state", "", "only requests in this state: pending, approved, denied, expired, superseded or withdrawn")
	asJSON := fs.Bool("json", false, "print a JSON array of requests (without payloads)")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	if *state != "" && !slices.Contains(approval.States, approval.State(*state)) {
		return fmt.Errorf("%w: --state %q: want pending, approved, denied, expired, superseded or withdrawn", errUsage, *state)
	}
	l, err := m.openReadLedger(ctx)
	if err != nil {
		return err
	}
	defer l.close()
	reqs, err := l.approvals.List(ctx, approval.State(*state))
	if err != nil {
		return err
	}
	if *asJSON {
		return m.writeJSON(reqs)
	}
	if len(reqs) == 0 {
		fmt.Fprintln(m.Stdout, "No approval requests.")
		return nil
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tCREATED\tEXPIRES\tSUMMARY")
	for _, r := range reqs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Kind, r.Created.Local().Format("2006-01-02 15:04"),
			r.Expires.Local().Format("2006-01-02 15:04"), oneLine(r.Summary, 80))
	}
	return tw.Flush()
}

// requestOutput is `mai approvals show --json`: the request and its payload.
type requestOutput struct {
	approval.Request
	Payload string `json:"payload"`
	// Binary is set when the payload is not UTF-8 text; it is then shown
	// with invalid bytes replaced, and the hash is of the bytes as stored.
	Binary bool `json:"binary,omitempty"`
}

func (m *Main) approvalsShow(ctx context.Context, args []string) error {
	fs := m.newFlagSet("approvals show", "approvals show ID [--json]", approvalsExamples)
	asJSON := fs.Bool("json", false, "print the request with its payload as JSON")
	rest, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	l, r, err := m.openRequest(ctx, "show", rest, m.openReadLedger)
	if err != nil {
		return err
	}
	defer l.close()
	if *asJSON {
		return m.writeJSON(requestOutput{Request: r, Payload: string(r.Payload), Binary: !utf8.Valid(r.Payload)})
	}
	m.printRequest(r)
	fmt.Fprintf(m.Stdout, "--- payload (%d bytes, SHA-256 %s) ---\n%s", len(r.Payload), r.PayloadSHA256, r.Payload)
	if len(r.Payload) > 0 && r.Payload[len(r.Payload)-1] != '\n' {
		fmt.Fprintln(m.Stdout)
	}
	fmt.Fprintln(m.Stdout, "--- end of payload ---")
	return nil
}

// printRequest shows a request's fields and findings (not its payload).
func (m *Main) printRequest(r approval.Request) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nkind\t%s\nsummary\t%s\nstate\t%s\n", r.ID, r.Kind, r.Summary, r.State)
	fmt.Fprintf(tw, "requester\t%s\ncreated\t%s\nexpires\t%s\n", r.Requester, r.Created.Local().Format(time.RFC3339), r.Expires.Local().Format(time.RFC3339))
	if r.DecidedAt != nil {
		fmt.Fprintf(tw, "decided\t%s by %s %s\n", r.DecidedAt.Local().Format(time.RFC3339), r.DecidedBy, dash(string(r.DecidedVia)))
	}
	if r.Reason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", r.Reason)
	}
	fmt.Fprintf(tw, "payload sha256\t%s\n", r.PayloadSHA256)
	tw.Flush()
	if r.Verdict != nil {
		fmt.Fprintf(m.Stdout, "risk: %s\n", r.Verdict.Level)
		printFindings(m.Stdout, r.Verdict.Findings)
	}
}

// openRequest takes the one request ID in rest, opens the ledger with
// open, and returns it and the request; the caller closes the ledger.
func (m *Main) openRequest(ctx context.Context, verb string, rest []string, open func(context.Context) (*ledger, error)) (*ledger, approval.Request, error) {
	if len(rest) != 1 {
		return nil, approval.Request{}, fmt.Errorf("%w: %s takes one request ID (see 'mai approvals list')", errUsage, verb)
	}
	l, err := open(ctx)
	if err != nil {
		return nil, approval.Request{}, err
	}
	r, err := l.approvals.Get(ctx, rest[0])
	if errors.Is(err, approval.ErrNotFound) {
		err = fmt.Errorf("there is no approval request %s: list them with 'mai approvals list'", rest[0])
	}
	if err != nil {
		l.close()
		return nil, approval.Request{}, err
	}
	return l, r, nil
}

func (m *Main) approvalsDecide(ctx context.Context, approve bool, args []string) error {
	verb := map[bool]string{true: "approve", false: "deny"}[approve]
	fs := m.newFlagSet("approvals "+verb, "approvals "+verb+" ID [--reason TEXT] [--sha256 HEX] [--pin-stdin]", approvalsExamples)
	sha := fs.String("sha256", "", "decide only if the payload's SHA-256 is this (as 'mai approvals show' prints it)")
	reason := fs.String("reason", "", "why (recorded with the decision)")
	pinStdin := pinFlag(fs)
	rest, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if len(rest) == 1 { // the PIN before anything is opened
		if err := m.requirePIN(ctx, m.pinInput(*pinStdin)); err != nil {
			return err
		}
	}
	l, r, err := m.openRequest(ctx, verb, rest, func(ctx context.Context) (*ledger, error) { return m.openLedger(ctx) })
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			l.close()
		}
	}()
	hash := r.PayloadSHA256
	if *sha != "" {
		hash = *sha
	}
	got, err := l.approvals.Decide(ctx, r.ID, approval.Decision{Approve: approve, By: approval.LocalOwner, Via: approval.ViaTerminal, PayloadSHA256: hash, Reason: *reason})
	switch {
	case errors.Is(err, approval.ErrHashMismatch):
		return fmt.Errorf("%w (%s): nothing was decided; check the payload with 'mai approvals show %s'", err, r.PayloadSHA256, r.ID)
	case errors.Is(err, approval.ErrNotPending), errors.Is(err, approval.ErrExpired):
		return fmt.Errorf("%w; nothing was decided", err)
	case err != nil:
		return err
	}
	fmt.Fprintf(m.Stdout, "%s %s: %s (payload SHA-256 %s)\n", got.State, got.ID, got.Summary, got.PayloadSHA256)
	if got.Kind == approval.KindSelfMod { // the commit (or the discard) follows at once
		closed = true
		l.close()
		return m.settleSelfmod(ctx)
	}
	return nil
}

// terminalListener shows a waiting command's request changes on stderr.
type terminalListener struct{ m *Main }

func (terminalListener) Requested(context.Context, approval.Request) {}

func (t terminalListener) Reminded(_ context.Context, r approval.Request) {
	fmt.Fprintf(t.m.Stderr, "mai: approval request %s is still waiting (since %s): 'mai approvals approve %s' or 'mai approvals deny %s'\n",
		r.ID, r.Created.Local().Format(time.TimeOnly), r.ID, r.ID)
}

func (t terminalListener) Decided(_ context.Context, r approval.Request) {
	fmt.Fprintf(t.m.Stderr, "mai: approval request %s %s", r.ID, r.State)
	if r.DecidedBy != "" && r.State != approval.Withdrawn {
		fmt.Fprintf(t.m.Stderr, " by %s", r.DecidedBy)
	}
	fmt.Fprintln(t.m.Stderr)
}

// codeRunApprover asks the owner about a HIGH-risk job through an
// approval request, whose id it stores in id; --yes decides it at once
// (with the PIN, when one is stored).
func (m *Main) codeRunApprover(l *ledger, yes bool, wait time.Duration, id *string) approval.CodeRun {
	return approval.CodeRun{Service: l.approvals, Requester: approval.LocalOwner, Yes: yes, Timeout: wait,
		Created: func(ctx context.Context, r approval.Request) error {
			*id = r.ID
			if yes {
				return m.requirePIN(ctx, m.pinInput(false))
			}
			m.announce(ctx, l, r, wait)
			return nil
		}}
}

// announce tells the owner that a HIGH-risk job waits, and how to decide;
// at a terminal it also asks y/N inline.
func (m *Main) announce(ctx context.Context, l *ledger, r approval.Request, wait time.Duration) {
	fmt.Fprintf(m.Stderr, "mai: %s\n", r.Summary)
	if r.Verdict != nil {
		printFindings(m.Stderr, r.Verdict.Findings)
	}
	fmt.Fprintf(m.Stderr, "mai: approval request %s waits for the owner (payload SHA-256 %s). Decide with:\n"+
		"  mai approvals approve %s\n  mai approvals deny %s\n"+
		"Waiting up to %s (the request expires %s); Ctrl-C withdraws it.\n",
		r.ID, r.PayloadSHA256, r.ID, r.ID, wait, r.Expires.Local().Format("2006-01-02 15:04"))
	if isTerminal(m.Stdin) && isTerminal(m.Stderr) {
		go m.promptDecision(ctx, l, r)
	}
}

// promptDecision asks y/N at the terminal (then the PIN, when one is
// stored) and decides the request; a decision made elsewhere meanwhile wins.
func (m *Main) promptDecision(ctx context.Context, l *ledger, r approval.Request) {
	fmt.Fprint(m.Stderr, "Approve it here? [y/N] ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(m.Stdin).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	var a string
	select {
	case <-ctx.Done():
		return
	case a = <-answer:
	}
	approve := a == "y" || a == "yes"
	if err := m.requirePIN(ctx, m.pinInput(false)); err != nil {
		fmt.Fprintf(m.Stderr, "mai: %v\n", err)
		return
	}
	_, err := l.approvals.Decide(ctx, r.ID, approval.Decision{Approve: approve, By: approval.LocalOwner, Via: approval.ViaTerminal, PayloadSHA256: r.PayloadSHA256})
	if err != nil && !errors.Is(err, approval.ErrNotPending) && ctx.Err() == nil {
		fmt.Fprintf(m.Stderr, "mai: %v\n", err)
	}
}

// recordRun audits one sandbox run or refusal by actor: verdict, approval
// request, exit status and duration.
func (m *Main) recordRun(ctx context.Context, l *ledger, actor, requestID string, res sandbox.Result, runErr error) error {
	d := map[string]any{"exit_code": res.ExitCode, "duration_ms": res.Duration.Milliseconds()}
	if res.Risk != nil {
		d["verdict"] = res.Risk.Level.String()
	}
	if requestID != "" {
		d["approval_id"] = requestID
	}
	if res.Approval != nil {
		d["approved_by"] = res.Approval.By
	}
	for k, v := range map[string]bool{"timed_out": res.TimedOut, "oom_killed": res.OOMKilled, "truncated": res.Truncated, "killed": res.Killed} {
		if v {
			d[k] = true
		}
	}
	action := "sandbox.run"
	if runErr != nil {
		d["error"] = runErr.Error()
		if _, refused := sandbox.IsRefused(runErr); refused {
			action = "sandbox.refuse"
		}
	}
	_, err := l.log.Append(context.WithoutCancel(ctx), audit.Record{Actor: actor, Action: action, Subject: res.JobID, Details: d})
	if err != nil {
		return fmt.Errorf("the run is not recorded in the audit log: %w", err)
	}
	return nil
}

// approvalsSweeper is the daemon's part in approvals: one reminder, then
// expiry, for requests whose requester may be gone.
func approvalsSweeper(l *ledger, log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		l.approvals.Run(ctx, func(err error) { log.Warn().Err(err).Msg("approval sweep failed") })
		return nil
	}
}

// logListener writes request changes to the daemon's log.
type logListener struct{ log zerolog.Logger }

func (l logListener) Requested(_ context.Context, r approval.Request) {
	l.log.Info().Str("id", r.ID).Str("kind", string(r.Kind)).Str("summary", r.Summary).Msg("approval requested")
}

func (l logListener) Reminded(_ context.Context, r approval.Request) {
	l.log.Info().Str("id", r.ID).Time("since", r.Created).Msg("approval request still unanswered")
}

func (l logListener) Decided(_ context.Context, r approval.Request) {
	l.log.Info().Str("id", r.ID).Str("state", string(r.State)).Str("by", r.DecidedBy).Str("via", string(r.DecidedVia)).Msg("approval request decided")
}
