package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
)

const sandboxExamples = "  mai sandbox run hello.py                  # risk check, then run in the hardened container\n" +
	"  echo 'echo hi' | mai sandbox run --lang sh -\n" +
	"  mai sandbox run job.py --timeout 5s --memory 128m --json | jq .exit_code\n" +
	"  mai sandbox run tool.py                   # HIGH risk: waits for 'mai approvals approve ID' (or y at the prompt)\n" +
	"  mai sandbox run --yes tool.py             # approve a HIGH-risk job without asking (recorded)\n" +
	"  mai sandbox image pull                    # pull SANDBOX_DOCKER_IMAGE with a progress line\n" +
	"  mai sandbox ps                            # sandbox containers on the engine"

// sandboxCommand is the sandbox group.
func sandboxCommand() command {
	return command{name: "sandbox", summary: "run code in the hardened Docker sandbox, behind the risk gate", config: true, examples: sandboxExamples,
		subs: []command{
			{name: "run", summary: "judge code, then run it in a fresh hardened container", run: (*Main).sandboxRun},
			{name: "image", summary: "show the sandbox image; 'image pull' pulls it", run: (*Main).sandboxImage},
			{name: "pull", summary: "the same as 'image pull'", run: (*Main).sandboxPull},
			{name: "ps", summary: "sandbox containers on the engine", run: (*Main).sandboxPS},
		}}
}

// sandboxOptions are the configured image, core bound and Docker host.
// Only the Go check image (SANDBOX_GO_IMAGE) may run what it builds (the
// source repository's tests), and only for jobs that ask for it.
func (m *Main) sandboxOptions() sandbox.Options {
	opts := sandbox.Options{Image: m.cfg.SandboxImage, CPUCores: m.cfg.CPUCores}
	if m.cfg.SandboxGoImage != "" {
		opts.ExecImages = []string{m.cfg.SandboxGoImage}
	}
	if host, ok := m.Env("DOCKER_HOST"); ok && host != "" {
		opts.Host = host
	}
	return opts
}

// openSandbox connects to Docker with the configured image and core bound,
// and removes what a crashed run left behind.
func (m *Main) openSandbox(ctx context.Context, image string, approver sandbox.Approver) (*sandbox.Sandbox, error) {
	policy, err := risk.LoadWorkspacePolicy(m.cfg.Workspace)
	if err != nil {
		return nil, fmt.Errorf("risk policy: %w", err)
	}
	opts := m.sandboxOptions()
	opts.Approver, opts.Policy = approver, policy
	if image != "" {
		opts.Image = image
	}
	s, err := sandbox.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.Cleanup(ctx); err != nil {
		fmt.Fprintf(m.Stderr, "mai: warning: could not remove leftover sandbox containers: %v\n", err)
	}
	return s, nil
}

// sandboxOutput is the --json document of a run: the Result (with the risk
// verdict and any approval), plus the refusal when the gate said no.
type sandboxOutput struct {
	sandbox.Result
	Refused bool   `json:"refused"`
	Error   string `json:"error,omitempty"`
}

func (m *Main) sandboxRun(ctx context.Context, args []string) error {
	fs := m.newFlagSet("sandbox run", "sandbox run [--lang python|sh] [--timeout 30s] [--memory 256m] [--image IMG] [--stdin FILE] [--yes] [--json] FILE|-", sandboxExamples)
	lang := fs.String("lang", "", "python or sh (default: from the file's extension or shebang, else python)")
	timeout := fs.Duration("timeout", 30*time.Second, "wall time before the container is killed")
	memory := fs.String("memory", "256m", "memory limit, no swap (bytes, or with k, m, g)")
	image := fs.String("image", "", "image to run in (default: SANDBOX_DOCKER_IMAGE)")
	stdinFile := fs.String("stdin", "", "file fed to the program's standard input")
	yes := fs.Bool("yes", false, "approve a HIGH-risk job without asking (recorded in the result and the audit log); BLOCKED is refused anyway")
	wait := fs.Duration("wait", 10*time.Minute, "how long a HIGH-risk job waits for the owner's decision before its request is withdrawn")
	asJSON := fs.Bool("json", false, "print the result as JSON: exit_code, stdout, stderr, timed_out, oom_killed, truncated, duration_ms, risk, …")
	files, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return fmt.Errorf("%w: name one FILE to run, or - for standard input (see 'mai sandbox run --help')", errUsage)
	}
	mem, err := parseSize(*memory)
	if err != nil {
		return fmt.Errorf("%w: --memory: %v", errUsage, err)
	}
	if *timeout <= 0 || *wait <= 0 {
		return fmt.Errorf("%w: --timeout and --wait must be positive", errUsage)
	}
	name, src, err := m.readSource(files[0])
	if err != nil {
		return err
	}
	var stdin []byte
	if *stdinFile != "" {
		if stdin, err = os.ReadFile(m.path(*stdinFile)); err != nil {
			return fmt.Errorf("read --stdin file: %w", err)
		}
	}
	language := *lang
	if language == "" {
		language = runLanguage(ctx, name, src)
	}
	entry := "main.py"
	if language == "sh" || language == "shell" {
		entry = "main.sh"
	}

	// Ctrl-C withdraws a pending approval request (and stops a running job).
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	led, err := m.openLedger(ctx, terminalListener{m})
	if err != nil {
		return err
	}
	defer led.close()
	if err := m.recordPolicy(ctx, led); err != nil {
		return fmt.Errorf("record the risk policy in the audit log: %w", err)
	}
	var requestID string
	s, err := m.openSandbox(ctx, *image, m.codeRunApprover(led, *yes, *wait, &requestID))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.EnsureImage(ctx, *image, m.pullReporter()); err != nil {
		return err
	}
	res, err := s.Run(ctx, sandbox.Job{
		Language: language, Files: map[string][]byte{entry: src}, Entry: entry, Stdin: stdin, Image: *image,
		Limits: sandbox.Limits{WallTime: *timeout, MemoryBytes: mem},
	})
	if rerr := m.recordRun(ctx, led, approval.LocalOwner, requestID, res, err); rerr != nil {
		fmt.Fprintf(m.Stderr, "mai: warning: %v\n", rerr)
	}
	_, refused := sandbox.IsRefused(err)
	if err != nil && !refused {
		return err
	}
	if refused && requestID != "" && (errors.Is(err, approval.ErrWithdrawn) || errors.Is(err, approval.ErrExpired)) {
		err = fmt.Errorf("%w (decide it with 'mai approvals approve %s' while the command waits, or pass --yes)", err, requestID)
	}
	if *asJSON {
		out := sandboxOutput{Result: res, Refused: err != nil}
		if err != nil {
			out.Error = err.Error()
		}
		if eerr := m.writeJSON(out); eerr != nil {
			return eerr
		}
	} else {
		m.printRun(res, err)
	}
	if err != nil || res.ExitCode != 0 || res.TimedOut || res.OOMKilled || res.Truncated {
		return exitError{code: 1}
	}
	return nil
}

// printRun shows the program's output on the matching streams, then one
// summary line on stderr with what the limits and the gate did.
func (m *Main) printRun(res sandbox.Result, err error) {
	if err != nil {
		level := "REFUSED"
		if res.Risk != nil {
			level = res.Risk.Level.String()
		}
		fmt.Fprintf(m.Stderr, "mai: %s: not run: %v\n", level, err)
		if res.Risk != nil {
			printFindings(m.Stderr, res.Risk.Findings)
		}
		return
	}
	io.WriteString(m.Stdout, res.Stdout)
	io.WriteString(m.Stderr, res.Stderr)
	var notes []string
	if res.TimedOut {
		notes = append(notes, "killed at the time limit")
	}
	if res.OOMKilled {
		notes = append(notes, "killed for memory")
	}
	if res.Truncated {
		notes = append(notes, "output truncated at the cap")
	}
	if res.Killed {
		notes = append(notes, "killed from outside the sandbox")
	}
	if res.Approval != nil {
		notes = append(notes, "approved by "+res.Approval.By)
	}
	level := ""
	if res.Risk != nil {
		level = ", risk " + res.Risk.Level.String()
	}
	fmt.Fprintf(m.Stderr, "mai: exit %d in %s%s", res.ExitCode, res.Duration.Round(time.Millisecond), level)
	if len(notes) > 0 {
		fmt.Fprintf(m.Stderr, " (%s)", strings.Join(notes, ", "))
	}
	fmt.Fprintln(m.Stderr)
	if res.Risk != nil && res.Risk.Level.String() != "LOW" {
		printFindings(m.Stderr, res.Risk.Findings)
	}
}

func printFindings(w io.Writer, findings []risk.Finding) {
	for _, f := range findings {
		fmt.Fprintf(w, "  %s line %d  %s: %s\n", f.Level, f.Line, f.Rule, f.Reason)
	}
}

func (m *Main) sandboxImage(ctx context.Context, args []string) error {
	fs := m.newFlagSet("sandbox image", "sandbox image [pull] [--image IMG] [--json]", sandboxExamples)
	asJSON := fs.Bool("json", false, "print the image status as JSON: image, present, id, size, created")
	image := fs.String("image", "", "image (default: SANDBOX_DOCKER_IMAGE)")
	rest, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	pull := len(rest) == 1
	if pull && rest[0] != "pull" {
		return fmt.Errorf("%w: unexpected argument %q: 'mai sandbox image' takes only 'pull' (see 'mai sandbox image --help')", errUsage, rest[0])
	}
	return m.imageStatus(ctx, *image, pull, *asJSON)
}

// sandboxPull is 'mai sandbox image pull' by a shorter name.
func (m *Main) sandboxPull(ctx context.Context, args []string) error {
	fs := m.newFlagSet("sandbox pull", "sandbox pull [--image IMG] [--json]   (the same as 'mai sandbox image pull')", sandboxExamples)
	asJSON := fs.Bool("json", false, "print the image status after the pull as JSON: image, present, id, size, created")
	image := fs.String("image", "", "image (default: SANDBOX_DOCKER_IMAGE)")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	return m.imageStatus(ctx, *image, true, *asJSON)
}

// imageStatus pulls the image when asked, then shows whether the engine
// has it.
func (m *Main) imageStatus(ctx context.Context, image string, pull, asJSON bool) error {
	s, err := m.openSandbox(ctx, image, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if pull {
		if err := s.Pull(ctx, image, m.pullReporter()); err != nil {
			return err
		}
	}
	st, err := s.ImageStatus(ctx, image)
	if err != nil {
		return err
	}
	if asJSON {
		return m.writeJSON(st)
	}
	if !st.Present {
		fmt.Fprintf(m.Stdout, "%s: not on the Docker engine; run 'mai sandbox image pull'\n", st.Image)
		return exitError{code: 1}
	}
	fmt.Fprintf(m.Stdout, "%s: present, %s, %.1f MB, created %s\n", st.Image, shortID(st.ID), float64(st.Size)/1e6, st.Created)
	return nil
}

func (m *Main) sandboxPS(ctx context.Context, args []string) error {
	fs := m.newFlagSet("sandbox ps", "sandbox ps [--json]", sandboxExamples)
	asJSON := fs.Bool("json", false, "print a JSON array of {job_id, container_id, role, language, image, state, created, host, pid}")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	s, err := m.openSandbox(ctx, "", nil)
	if err != nil {
		return err
	}
	defer s.Close()
	jobs, err := s.PS(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return m.writeJSON(jobs)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCONTAINER\tROLE\tLANG\tSTATE\tAGE\tIMAGE")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.JobID, shortID(j.ContainerID), j.Role, j.Language, j.State,
			time.Since(j.Created).Round(time.Second), j.Image)
	}
	return tw.Flush()
}

// pullReporter draws one progress line on a terminal, rewritten in place;
// elsewhere it prints a line per finished layer.
func (m *Main) pullReporter() func(sandbox.PullProgress) {
	tty := isTerminal(m.Stderr)
	done := -1
	return func(p sandbox.PullProgress) {
		if tty {
			fmt.Fprintf(m.Stderr, "\rpulling %s: %d/%d layers, %.1f/%.1f MB   ", p.Image, p.LayersDone, p.Layers,
				float64(p.Current)/1e6, float64(p.Total)/1e6)
			if p.Layers > 0 && p.LayersDone == p.Layers && strings.HasPrefix(p.Status, "Status:") {
				fmt.Fprintln(m.Stderr)
			}
			return
		}
		if p.LayersDone != done {
			done = p.LayersDone
			fmt.Fprintf(m.Stderr, "pulling %s: %d/%d layers\n", p.Image, p.LayersDone, p.Layers)
		}
	}
}

// readSource reads FILE, or standard input for "-".
func (m *Main) readSource(arg string) (name string, src []byte, err error) {
	if arg == "-" {
		src, err = io.ReadAll(m.Stdin)
		if err != nil {
			return "", nil, fmt.Errorf("read code from standard input: %w", err)
		}
		return "-", src, nil
	}
	src, err = os.ReadFile(m.path(arg))
	if err != nil {
		return "", nil, fmt.Errorf("read code: %w", err)
	}
	return arg, src, nil
}

// runLanguage is the language code runs in when --lang is not given: the
// one the risk analyser detects, so the gate judges the code as what it
// runs as; python when it cannot tell. Go is named so that the sandbox
// refuses it clearly instead of handing it to Python.
func runLanguage(ctx context.Context, name string, src []byte) string {
	switch risk.Detect(ctx, name, src) {
	case risk.Shell:
		return "sh"
	case risk.Go:
		return "go"
	}
	return "python"
}

// parseSize reads 256m, 1g, 512k or a plain number of bytes.
func parseSize(arg string) (int64, error) {
	s := strings.TrimSpace(strings.ToLower(arg))
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, strings.TrimSuffix(s, "g")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 256m, 1g or 1048576", arg)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", arg)
	}
	return n * mult, nil
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
