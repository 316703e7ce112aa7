package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/maicompanion/mai/internal/doctor"
)

// doctorTimeout bounds each check; all run at once, so the report takes
// about this long when nothing answers.
const doctorTimeout = 2 * time.Second

func (m *Main) runDoctor(ctx context.Context, args []string) error {
	fs := m.newFlagSet("doctor", "doctor [--json]",
		"  mai doctor          # one line per check: OK, WARN or FAIL, with a fix\n"+
			"  mai doctor --json   # [{\"name\", \"status\", \"detail\", \"fix\"}, …]")
	asJSON := fs.Bool("json", false, "print a JSON array of {name, status, detail, fix}")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	results := doctor.Summarize(doctor.Run(ctx, append(doctor.Checks(m.cfg, doctor.Env{}), m.reviewerCheck()), doctorTimeout))
	if *asJSON {
		if err := m.writeJSON(results); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Status, r.Name, r.Detail)
			if r.Fix != "" && r.Status != doctor.OK {
				fmt.Fprintf(tw, "\t\t→ %s\n", r.Fix)
			}
		}
		tw.Flush()
	}
	if doctor.Failed(results) {
		return exitError{code: 1}
	}
	return nil
}
