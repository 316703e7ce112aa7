package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// TerminalApprover asks on a terminal whether a HIGH-risk job may run, or
// approves without asking when Yes is set (the --yes flag, which is
// recorded in the Result as the approver).
type TerminalApprover struct {
	In  io.Reader
	Out io.Writer
	// Interactive is whether In is a terminal; without one and without
	// Yes, HIGH-risk jobs are refused rather than read from a pipe.
	Interactive bool
	Yes         bool
	// Now returns the time recorded in the approval; time.Now when nil.
	Now func() time.Time
}

// ErrNoTerminal: a HIGH-risk job needs a decision and nobody can be asked.
var ErrNoTerminal = errors.New("approval needs a terminal")

// Approve prints the findings and reads y or N.
func (t TerminalApprover) Approve(ctx context.Context, req ApprovalRequest) (Approval, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	if t.Yes {
		return Approval{Approved: true, By: "--yes", At: now()}, nil
	}
	if !t.Interactive {
		return Approval{}, fmt.Errorf("%w: job %s is HIGH risk; run it from a terminal to confirm, or pass --yes", ErrNoTerminal, req.JobID)
	}
	fmt.Fprintf(t.Out, "Job %s (%s, %s) is HIGH risk:\n", req.JobID, req.Language, req.Entry)
	for _, f := range req.Verdict.Findings {
		fmt.Fprintf(t.Out, "  %s line %d  %s: %s\n", f.Level, f.Line, f.Rule, f.Reason)
	}
	fmt.Fprint(t.Out, "Run it in the sandbox? [y/N] ")
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(t.In).ReadString('\n')
		answer <- strings.TrimSpace(strings.ToLower(line))
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(t.Out)
		return Approval{}, ctx.Err()
	case a := <-answer:
		return Approval{Approved: a == "y" || a == "yes", By: "terminal", At: now()}, nil
	}
}
