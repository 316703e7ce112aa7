// Package sandbox runs untrusted code in a hardened Docker container, and
// only after the risk gate has allowed it.
//
// Every run goes through [Sandbox.Run]: the code is analysed with
// risk.Analyze first; LOW and MEDIUM run, HIGH needs an [Approver], BLOCKED
// never reaches Docker. The executor behind the gate is unexported, so
// nothing outside this package can skip it.
//
// The container is hardened by default, unlike the peers Mai learns from
// (OpenHands hands its agent the Docker socket, llm-sandbox sets no limits):
// no network, read-only root, size-capped tmpfs for /tmp and the working
// directory, the job's files in a labelled Docker volume mounted read-only
// (no host path is ever bind-mounted, the Docker socket never), user
// 65534, every capability dropped, no-new-privileges, the engine's default
// seccomp profile, PIDs, memory (no swap), CPU and ulimit limits. Wall time
// and output size are enforced from outside.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/client"

	"github.com/maicompanion/mai/internal/risk"
)

// DefaultImage is the image used when neither the job nor the configuration
// names one (SANDBOX_DOCKER_IMAGE).
const DefaultImage = "python:3.12-slim"

// Labels put on every container and volume the sandbox creates; Cleanup and
// PS find them by these.
const (
	LabelSandbox  = "mai.sandbox"  // always "1"
	LabelJob      = "mai.job"      // the job id
	LabelRole     = "mai.role"     // "job" or "files" (the helper that copies files in)
	LabelHost     = "mai.host"     // hostname of the process that created it
	LabelPID      = "mai.pid"      // pid of that process, to tell a crash from a live job
	LabelLang     = "mai.lang"     // the job's language
	LabelInstance = "mai.instance" // the Sandbox value within that process
)

// Limits bound one job. A zero field takes the default shown.
type Limits struct {
	CPUs         float64       // CPU quota in cores (1), never above Options.CPUCores
	MemoryBytes  int64         // memory limit, swap disabled (256 MiB)
	PIDs         int64         // processes and threads (64)
	WallTime     time.Duration // from start to kill (30 s)
	OutputBytes  int64         // stdout and stderr together (1 MiB)
	ScratchBytes int64         // each of the /tmp and working-directory tmpfs (64 MiB)
	NoFile       int64         // open files (256)
	NProc        int64         // processes of the sandbox user across jobs (512)
}

// defaultLimits are the limits of a job that sets none.
var defaultLimits = Limits{
	CPUs:         1,
	MemoryBytes:  256 << 20,
	PIDs:         64,
	WallTime:     30 * time.Second,
	OutputBytes:  1 << 20,
	ScratchBytes: 64 << 20,
	NoFile:       256,
	NProc:        512,
}

// DefaultLimits returns the limits a job gets for the fields it leaves zero.
func DefaultLimits() Limits { return defaultLimits }

// withDefaults fills zero fields from d.
func (l Limits) withDefaults(d Limits) Limits {
	if l.CPUs <= 0 {
		l.CPUs = d.CPUs
	}
	if l.MemoryBytes <= 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.PIDs <= 0 {
		l.PIDs = d.PIDs
	}
	if l.WallTime <= 0 {
		l.WallTime = d.WallTime
	}
	if l.OutputBytes <= 0 {
		l.OutputBytes = d.OutputBytes
	}
	if l.ScratchBytes <= 0 {
		l.ScratchBytes = d.ScratchBytes
	}
	if l.NoFile <= 0 {
		l.NoFile = d.NoFile
	}
	if l.NProc <= 0 {
		l.NProc = d.NProc
	}
	return l
}

// Job is one piece of code to run.
type Job struct {
	// ID names the job in labels and the container name; generated when empty.
	ID string
	// Language is "python" or "sh" (aliases: py, python3, shell).
	Language string
	// Files maps relative paths to contents; they appear read-only under /code.
	Files map[string][]byte
	// Entry is the file to run; empty means the only file, or main.py / main.sh.
	Entry string
	// Stdin is fed to the program, then closed.
	Stdin []byte
	// Image overrides the sandbox's image for this job.
	Image  string
	Limits Limits
	// ExecScratch mounts the job's scratch space (/tmp and the working
	// directory) exec instead of noexec, so programs it builds can run (a
	// Go check's test binaries). Honoured only for an image listed in
	// Options.ExecImages; for any other image the job is refused. Every
	// other hardening stays.
	ExecScratch bool
}

// Result is what a finished job did. ExitCode is the container's exit
// status (137 after SIGKILL: the flags say who sent it), or -1 when none
// was obtained (the job did not start, or the engine was lost).
type Result struct {
	JobID       string        `json:"job_id"`
	ExitCode    int           `json:"exit_code"`
	Stdout      string        `json:"stdout"`
	Stderr      string        `json:"stderr"`
	TimedOut    bool          `json:"timed_out"`
	OOMKilled   bool          `json:"oom_killed"`
	Truncated   bool          `json:"truncated"`
	Killed      bool          `json:"killed"` // killed from outside the sandbox (docker kill, daemon)
	Duration    time.Duration `json:"-"`
	DurationMS  int64         `json:"duration_ms"`
	Image       string        `json:"image"`
	ContainerID string        `json:"container_id"`
	Risk        *risk.Verdict `json:"risk,omitempty"`
	Approval    *Approval     `json:"approval,omitempty"`
}

// Options configure a Sandbox.
type Options struct {
	// Image is the default image (config SANDBOX_DOCKER_IMAGE); DefaultImage when empty.
	Image string
	// CPUCores bounds any job's CPU quota (config CPU_CORES_AVAILABLE); no bound when 0.
	CPUCores int
	// Limits are the defaults for a job's zero limits; DefaultLimits when zero.
	Limits Limits
	// Approver decides HIGH-risk jobs; without one they are refused.
	Approver Approver
	// Policy is the workspace's risk policy (risk.LoadWorkspacePolicy);
	// nil means the built-in rule levels.
	Policy *risk.Policy
	// Host overrides DOCKER_HOST (for example unix:///run/user/1000/docker.sock).
	Host string
	// PoolSize is how many pre-created, never-started containers to keep
	// ready per job shape (image, language, limits); 0 turns the pool off.
	// Each is used by one job and replaced. Worth it in a daemon, not in a
	// one-shot command.
	PoolSize int
	// ExecImages are the trusted images whose jobs may ask for an exec
	// scratch space (Job.ExecScratch); the product lists only the Go check
	// image (SANDBOX_GO_IMAGE).
	ExecImages []string
}

// Sandbox runs jobs through the risk gate in hardened containers. It is safe
// for concurrent use.
type Sandbox struct {
	exec     *executor
	approver Approver
	policy   *risk.Policy
}

// Errors a caller may branch on.
var (
	// ErrEngine: the Docker engine cannot be reached.
	ErrEngine = errors.New("docker engine unreachable")
	// ErrImageMissing: the image is not on the engine and must be pulled or loaded.
	ErrImageMissing = errors.New("sandbox image missing")
	// ErrPull: the engine could not pull the image (often: no registry is
	// reachable, so the image must be loaded by hand).
	ErrPull = errors.New("image pull failed")
	// ErrUnsupported: the language cannot run in the image.
	ErrUnsupported = errors.New("language not supported")
	// ErrExecScratch: a job asked for an exec scratch space on an image
	// that is not trusted with one (Options.ExecImages).
	ErrExecScratch = errors.New("exec scratch space refused")
	// ErrRefused: the risk gate refused the job (BLOCKED, or HIGH without approval).
	ErrRefused = errors.New("refused by the risk gate")
)

// New connects to the Docker engine (DOCKER_HOST or the default socket),
// negotiating the API version, and returns a Sandbox.
func New(ctx context.Context, opts Options) (*Sandbox, error) {
	copts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if opts.Host != "" {
		copts = append(copts, client.WithHost(opts.Host))
	}
	cli, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("%w at %s: %w", ErrEngine, cli.DaemonHost(), err)
	}
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = defaultLimits
	}
	opts.Limits = opts.Limits.withDefaults(defaultLimits)
	host, _ := os.Hostname()
	s := &Sandbox{
		exec: &executor{
			cli:      cli,
			image:    opts.Image,
			cpuCores: opts.CPUCores,
			limits:   opts.Limits,
			host:     host,
			pid:      os.Getpid(),
			instance: newJobID(),
			inflight: map[string]bool{},
			execOK:   map[string]bool{},
		},
		approver: opts.Approver,
		policy:   opts.Policy,
	}
	for _, img := range opts.ExecImages {
		if img != "" {
			s.exec.execOK[img] = true
		}
	}
	if opts.PoolSize > 0 {
		s.exec.pool = newPool(s.exec, opts.PoolSize)
		s.exec.pool.warmUp(s.exec)
	}
	return s, nil
}

// Close removes the pool's idle containers and releases the connection to
// the engine.
func (s *Sandbox) Close() error {
	s.exec.pool.close()
	return s.exec.cli.Close()
}

// Image returns the default image name.
func (s *Sandbox) Image() string { return s.exec.image }

// APIVersion returns the negotiated Docker API version.
func (s *Sandbox) APIVersion() string { return s.exec.cli.ClientVersion() }

// WithGate returns a Sandbox over the same engine connection and warm pool
// whose gate asks approver about HIGH-risk jobs and judges with policy: one
// daemon serves chat's code and the self-modification checks, each with its
// own approver, from one set of containers. Only s is closed; the returned
// Sandbox must not be.
func (s *Sandbox) WithGate(approver Approver, policy *risk.Policy) *Sandbox {
	return &Sandbox{exec: s.exec, approver: approver, policy: policy}
}

// Ping reports whether the engine still answers.
func (s *Sandbox) Ping(ctx context.Context) error {
	if _, err := s.exec.cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("%w at %s: %w", ErrEngine, s.exec.cli.DaemonHost(), err)
	}
	return nil
}

// WarmUp fills the warm pool for the default image in Python, once the
// image is on the engine (New tries too, but the image may be pulled later).
func (s *Sandbox) WarmUp() { s.exec.pool.warmUp(s.exec) }
