// Command mai is a local AI companion: a daemon that chats with its owner in
// Discord DMs through local models, and the CLI that inspects and steers it.
//
// main.go only dispatches; each subcommand lives in a file of its own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/maicompanion/mai/internal/config"
)

// command is one subcommand: its name, a one-line summary for the usage text,
// whether it needs the configuration loaded, and the function that runs it.
type command struct {
	name       string
	summary    string
	needConfig bool
	run        func(m *Main, ctx context.Context, args []string) error
}

// commands lists every subcommand; each is implemented in <name>.go.
func commands() []command {
	return []command{
		{"serve", "run the daemon: checks the integrations, backs up and compresses memory daily, cleans up the sandbox", true, (*Main).runServe},
		{"doctor", "check every integration and say how to fix what fails", true, (*Main).runDoctor},
		{"config", "print the effective configuration, secrets redacted", true, (*Main).runConfig},
		{"models", "list models, show the VRAM plan, switch or probe", true, (*Main).runModels},
		{"status", "daemon, backends, loaded models, VRAM plan and last switches", true, (*Main).runStatus},
		{"chat", "ask one question (--once) and stream the answer", true, (*Main).runChat},
		{"sandbox", "run code in the hardened Docker sandbox, behind the risk gate", true, (*Main).runSandbox},
		{"version", "print version, commit, Go version and build tags", false, (*Main).runVersion},
		{"risk", "judge code by its syntax tree: LOW, MEDIUM, HIGH or BLOCKED", false, (*Main).runRisk},
		{"memory", "search, inspect, compress, export, import and forget memories", true, (*Main).runMemory},
	}
}

// Main holds what a command may touch of the outside world, so tests can run
// commands in-process with their own streams, environment and directory.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Env looks up an environment variable (os.LookupEnv in production).
	Env func(string) (string, bool)
	// Dir is the working directory, where .env is read from.
	Dir string
	// Signals, when set, replaces the process's SIGINT/SIGTERM for serve.
	Signals <-chan os.Signal

	cfg *config.Config
}

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Env: os.LookupEnv, Dir: "."}
	os.Exit(m.Run(context.Background(), os.Args[1:]))
}

// errUsage marks misuse of the command line: exit status 2.
var errUsage = errors.New("usage")

// exitError carries an exit status for a command that already printed its
// own explanation (doctor with a FAIL line, a refused sandbox job).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run dispatches args and returns the process exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			return m.Run(ctx, []string{args[1], "--help"})
		}
		m.usage(m.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(m.Stderr, "mai: unknown command %q\n\n", args[0])
		m.usage(m.Stderr)
		return 2
	}
	if cmd.needConfig && !wantsHelp(args[1:]) {
		cfg, err := config.Load(m.Env, m.Dir)
		if err != nil {
			fmt.Fprintf(m.Stderr, "mai: %v\n", err)
			return 2
		}
		m.cfg = cfg
	}
	return m.exitStatus(cmd.run(m, ctx, args[1:]))
}

func (m *Main) exitStatus(err error) int {
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errUsage):
		fmt.Fprintf(m.Stderr, "mai: %v\n", err)
		return 2
	default:
		fmt.Fprintf(m.Stderr, "mai: %v\n", err)
		return 1
	}
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
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

// newFlagSet returns a flag set whose usage text shows the synopsis, the
// flags and the examples, and whose errors are returned, not printed twice.
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

// parseFlags parses args, turning a flag error into a usage error (exit 2)
// and --help into flag.ErrHelp (exit 0, usage printed to stdout).
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) error {
	if wantsHelp(args) {
		fs.SetOutput(m.Stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v (see 'mai %s --help')", errUsage, err, strings.TrimPrefix(fs.Name(), "mai "))
	}
	return nil
}

// parseArgs parses flags that may come before or after the operands (so
// "mai risk x.py --json" works) and returns the operands.
func (m *Main) parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	flags, rest := splitInterspersed(fs, args)
	if err := m.parseFlags(fs, flags); err != nil {
		return nil, err
	}
	return append(rest, fs.Args()...), nil
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
