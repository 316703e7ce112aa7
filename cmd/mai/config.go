package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/maicompanion/mai/internal/config"
)

func (m *Main) runConfig(ctx context.Context, args []string) error {
	fs := m.newFlagSet("config", "config [--json | --example]",
		"  mai config                    # effective values and where each came from\n"+
			"  mai config --json | jq .      # the same as JSON\n"+
			"  mai config --example > .env   # a commented template to start from")
	asJSON := fs.Bool("json", false, "print JSON: an array of {name, value, source, secret, help}")
	example := fs.Bool("example", false, "print a commented .env template with every variable")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	switch {
	case *example:
		_, err := fmt.Fprint(m.Stdout, config.Example())
		return err
	case *asJSON:
		return m.writeJSON(m.cfg.Entries)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tVALUE\tSOURCE")
	for _, e := range m.cfg.Entries {
		v := e.Value
		if v == "" {
			v = "(unset)"
		}
		src := string(e.Source)
		if e.File != "" {
			src = e.File
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, v, src)
	}
	return tw.Flush()
}
