// Command mai is a local AI companion: a daemon that chats with its owner in
// Discord DMs through local models, and the CLI that inspects and steers it.
//
// main.go only dispatches; each subcommand lives in a file of its own, and
// cli.go holds the one way every command is dispatched and parsed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/maicompanion/mai/internal/config"
)

// commands lists every subcommand; each is implemented in <name>.go. A
// group (models, memory, sandbox) lists its own subcommands there.
func commands() []command {
	return []command{
		{name: "serve", summary: "run the daemon: checks the integrations, backs up and compresses memory daily, cleans up the sandbox", config: true, run: (*Main).runServe},
		{name: "doctor", summary: "check every integration and say how to fix what fails", config: true, run: (*Main).runDoctor},
		{name: "config", summary: "print the effective configuration, secrets redacted", config: true, run: (*Main).runConfig},
		modelsCommand(),
		{name: "status", summary: "daemon, backends, loaded models, VRAM plan and last switches", config: true, run: (*Main).runStatus},
		{name: "chat", summary: "ask one question (--once) and stream the answer", config: true, run: (*Main).runChat},
		sandboxCommand(),
		{name: "version", summary: "print version, commit, Go version and build tags", run: (*Main).runVersion},
		{name: "risk", summary: "judge code by its syntax tree: LOW, MEDIUM, HIGH or BLOCKED", config: true, run: (*Main).runRisk},
		memoryCommand(),
		approvalsCommand(),
		auditCommand(),
		selfmodCommand(),
		pinCommand(),
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
	// Signals, when set, replaces the process's SIGINT/SIGTERM/SIGHUP for serve.
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
	if len(args) == 0 || args[0] == "help" || isHelpFlag(args[0]) {
		if len(args) > 1 {
			return m.Run(ctx, append(args[1:], "--help"))
		}
		m.usage(m.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := lookup(commands(), args[0])
	if !ok {
		fmt.Fprintf(m.Stderr, "mai: unknown command %q\n\n", args[0])
		m.usage(m.Stderr)
		return 2
	}
	if cmd.config && !wantsHelp(args[1:]) {
		cfg, err := config.Load(m.Env, m.Dir)
		if err != nil {
			fmt.Fprintf(m.Stderr, "mai: %v\n", err)
			return 2
		}
		m.cfg = cfg
	}
	return m.exitStatus(m.dispatch(ctx, cmd, cmd.name, args[1:]))
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
		if h := hint(err); h != "" {
			fmt.Fprintf(m.Stderr, "Try: %s\n", h)
		}
		return 1
	}
}
