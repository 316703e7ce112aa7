package selfmod

import (
	"fmt"
	"strings"

	"github.com/maicompanion/mai/internal/approval"
)

// Message is the commit message: the subject, a body with the whole
// decision (request, rationale, risk, review, checks), and the trailers
// that make it searchable (git log --grep, git interpret-trailers).
func Message(r Record, a approval.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", r.Subject)
	if r.Request != "" {
		fmt.Fprintf(&b, "Requested: %s\n", oneLine(r.Request))
	}
	if r.Rationale != "" {
		fmt.Fprintf(&b, "Rationale: %s\n", oneLine(r.Rationale))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Risk: %s\n", levelOf(r))
	if r.Risk != nil {
		for _, f := range r.Risk.Findings {
			fmt.Fprintf(&b, "  - %s %s line %d: %s\n", f.Level, f.Rule, f.Line, oneLine(f.Reason))
		}
	}
	if rv := r.Review; rv != nil {
		fmt.Fprintf(&b, "Review (%s): %s\n", rv.Reviewer, verdictOf(r))
		if rv.Summary != "" {
			fmt.Fprintf(&b, "  %s\n", oneLine(rv.Summary))
		}
		if rv.Error != "" {
			fmt.Fprintf(&b, "  %s\n", oneLine(rv.Error))
		}
		for _, c := range rv.Concerns {
			fmt.Fprintf(&b, "  - %s\n", oneLine(c))
		}
	}
	if c := r.Checks; c != nil {
		fmt.Fprintf(&b, "Checks: %s", c.Status)
		if c.Command != "" {
			fmt.Fprintf(&b, " (%s, exit %d)", c.Command, c.ExitCode)
		}
		if c.Note != "" {
			fmt.Fprintf(&b, ": %s", oneLine(c.Note))
		}
		b.WriteString("\n")
		if c.Status == "failed" && r.Flags.DespiteChecks {
			b.WriteString("  committed despite the failing checks, as the owner asked\n")
		}
	}
	requestedIn := r.RequestedIn
	if requestedIn == "" {
		requestedIn = "-"
	}
	fmt.Fprintf(&b, "\nMai-Approval-Id: %s\nMai-Approved-By: %s\nMai-Risk: %s\nMai-Review: %s\nMai-Change-Sha256: %s\nMai-Requested-In: %s\nCo-signed-by: %s\n",
		a.ID, approvedBy(a), levelOf(r), strings.ReplaceAll(verdictOf(r), " ", "-"), r.DiffSHA256, oneLine(requestedIn), approvedBy(a))
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
