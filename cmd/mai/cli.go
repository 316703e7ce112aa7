package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// The command-line convention, the same for every command:
//   - a group's subcommand is named by its first argument ("mai models
//     status"); a group with a default runs it when none is named;
//   - flags may come before or after the operands ("mai risk x.py --json");
//     "--" ends the flags;
//   - an operand a command does not take is a usage error (exit status 2);
//   - every read command takes --json and then prints one JSON document.
// A new command gets all of this by being listed in commands() (or in its
// group's subcommands) and parsing its flags with newFlagSet and parse.
// TestCommandLineConvention runs every command through these cases.

// command is one subcommand, or a group of them.
type command struct {
	name    string
	summary string
	// config loads the configuration before the command runs (a bad value
	// exits 2 with one line); a group's subcommands share it.
	config bool
	// run runs a leaf command with the arguments after its name.
	run func(m *Main, ctx context.Context, args []string) error
	// subs makes a group: its first argument names one of them.
	subs []command
	// dflt is the subcommand a group runs when none is named ("" for none).
	dflt string
	// examples end a group's usage text.
	examples string
}

// anyOperands is parse's max for commands that take free text.
const anyOperands = -1

func lookup(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// dispatch runs a leaf, or finds a group's subcommand by the first
// argument and runs that with the arguments after it. path is the command
// as typed so far ("models"), for messages.
func (m *Main) dispatch(ctx context.Context, c command, path string, args []string) error {
	if c.subs == nil {
		return c.run(m, ctx, args)
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, ok := lookup(c.subs, args[0])
		if !ok {
			return fmt.Errorf("%w: unknown subcommand %q of 'mai %s': want %s (see 'mai %s --help')", errUsage, args[0], path, subNames(c), path)
		}
		return m.dispatch(ctx, sub, path+" "+sub.name, args[1:])
	}
	if wantsHelp(args) {
		m.groupUsage(m.Stdout, c, path)
		return flag.ErrHelp
	}
	if sub, ok := lookup(c.subs, c.dflt); ok {
		return m.dispatch(ctx, sub, path+" "+sub.name, args)
	}
	return fmt.Errorf("%w: 'mai %s' needs a subcommand: %s (see 'mai %s --help')", errUsage, path, subNames(c), path)
}

func subNames(c command) string {
	names := make([]string, len(c.subs))
	for i, s := range c.subs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// groupUsage lists a group's subcommands and its examples.
func (m *Main) groupUsage(w io.Writer, c command, path string) {
	fmt.Fprintf(w, "Usage: mai %s <subcommand> [flags] [operands]\n\nSubcommands:\n", path)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range c.subs {
		def := ""
		if s.name == c.dflt {
			def = " (the default)"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", s.name, s.summary, def)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'mai %s <subcommand> --help' for its flags.\n", path)
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.examples, "\n"))
	}
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, "mai — a local AI companion\n\nUsage:\n  mai <command> [flags]\n\nCommands:\n")
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun 'mai <command> --help' for a command's flags and examples.\n")
}

// writeJSON prints v as one indented JSON document on stdout.
func (m *Main) writeJSON(v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newFlagSet returns the flag set of the command "mai name", whose usage
// text shows the synopsis, the flags and the examples, and whose errors are
// returned, not printed twice.
func (m *Main) newFlagSet(name, synopsis, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet("mai "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: mai %s\n\n", synopsis)
		var hasFlags bool
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(w, "Flags:\n")
			fs.PrintDefaults()
		}
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(examples, "\n"))
		}
	}
	return fs
}

// parse parses args the one way every command does: flags before or after
// the operands, at most max operands (anyOperands for free text). It
// returns the operands. --help prints the usage to stdout and returns
// flag.ErrHelp (exit 0); a bad flag or a stray operand is a usage error
// (exit 2). A command that needs a minimum of operands says so itself,
// naming what it needs.
func (m *Main) parse(fs *flag.FlagSet, args []string, max int) ([]string, error) {
	name := strings.TrimPrefix(fs.Name(), "mai ")
	if wantsHelp(args) {
		fs.SetOutput(m.Stdout)
		fs.Usage()
		return nil, flag.ErrHelp
	}
	flags, operands := splitInterspersed(fs, args)
	if err := fs.Parse(flags); err != nil {
		return nil, fmt.Errorf("%w: %v (see 'mai %s --help')", errUsage, err, name)
	}
	operands = append(operands, fs.Args()...)
	if max >= 0 && len(operands) > max {
		return nil, fmt.Errorf("%w: unexpected argument %q: 'mai %s' takes %s (see 'mai %s --help')",
			errUsage, operands[max], name, operandCount(max), name)
	}
	return operands, nil
}

func operandCount(n int) string {
	switch n {
	case 0:
		return "no operands"
	case 1:
		return "at most one operand"
	}
	return fmt.Sprintf("at most %d operands", n)
}

// splitInterspersed separates flags from operands so that flags may come
// after the file ("mai risk x.py --json"); "--" ends the flags.
func splitInterspersed(fs *flag.FlagSet, args []string) (flags, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(rest, args[i+1:]...)
		case a == "-" || !strings.HasPrefix(a, "-"):
			rest = append(rest, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil {
				continue
			}
			bf, isBool := f.Value.(interface{ IsBoolFlag() bool })
			if !(isBool && bf.IsBoolFlag()) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return flags, rest
}

// path resolves a file named on the command line against the working
// directory Main runs in.
func (m *Main) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(m.Dir, p)
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// wantsHelp reports a help flag before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
}
