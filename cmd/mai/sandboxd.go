package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/risk"
	"github.com/maicompanion/mai/internal/sandbox"
)

// sandboxWatchEvery is how often the daemon checks that Docker still
// answers while the sandbox is up.
const sandboxWatchEvery = 15 * time.Second

// sandboxStartWait bounds how long a job waits for a sandbox that is still
// starting (Docker's first answer, the removal of what earlier runs left,
// the image check) before it is told why there is none: a /run or a ▶️
// right after a restart runs once the sandbox is up, instead of being
// turned away.
const sandboxStartWait = 30 * time.Second

// errNoSandbox is why code cannot run while Docker is away.
var errNoSandbox = errors.New("code execution is unavailable right now")

// sandboxComponent is the daemon's one sandbox: it connects to Docker,
// removes what crashed runs left behind, checks (or pulls, with progress
// in the log) the image and keeps the warm pool; when Docker is absent or
// lost it says so once and tries again with backoff. Chat's code and the
// self-modification checks run through gates over it (gate), which answer
// why while it is down.
type sandboxComponent struct {
	m     *Main
	log   zerolog.Logger
	retry retrier

	started   chan struct{} // closed when the first start has succeeded or failed
	startOnce sync.Once

	mu     sync.Mutex
	sb     *sandbox.Sandbox // nil while Docker is away
	policy *risk.Policy     // the workspace's risk policy, reloaded on SIGHUP
	why    error            // why sb is nil
}

func newSandboxComponent(m *Main, log zerolog.Logger, reg *health.Registry) (*sandboxComponent, error) {
	policy, err := risk.LoadWorkspacePolicy(m.cfg.Workspace)
	if err != nil {
		return nil, fmt.Errorf("risk policy: %w", err)
	}
	c := &sandboxComponent{m: m, log: log, policy: policy, why: errors.New("the sandbox is still starting"), started: make(chan struct{})}
	c.retry = retrier{name: "sandbox", log: log, health: reg}
	return c, nil
}

// run keeps the sandbox up until ctx ends.
func (c *sandboxComponent) run(ctx context.Context) error {
	defer c.set(nil, errors.New("mai is stopping"))
	for ctx.Err() == nil {
		sb, err := c.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.set(nil, err)
			if !sleep(ctx, c.retry.failed(err, "code execution and self-modification checks are off until Docker answers")) {
				return nil
			}
			continue
		}
		c.set(sb, nil)
		c.retry.up(fmt.Sprintf("image %s, warm pool of %d", sb.Image(), c.m.cfg.SandboxPoolSize))
		err = c.watch(ctx, sb)
		c.set(nil, err)
		sb.Close()
		if ctx.Err() != nil {
			return nil
		}
		if !sleep(ctx, c.retry.failed(err, "Docker stopped answering: code execution and self-modification checks are off until it does")) {
			return nil
		}
	}
	return nil
}

// open connects, reaps orphans, makes sure the image is there and fills
// the warm pool.
func (c *sandboxComponent) open(ctx context.Context) (*sandbox.Sandbox, error) {
	opts := c.m.sandboxOptions()
	opts.PoolSize = c.m.cfg.SandboxPoolSize
	sb, err := sandbox.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	containers, volumes, err := sb.Cleanup(ctx)
	if err != nil {
		c.log.Warn().Err(err).Msg("could not remove leftover sandbox containers")
	} else {
		c.log.Info().Int("containers", containers).Int("volumes", volumes).Msg("removed what earlier runs left behind")
	}
	last := -1
	err = sb.EnsureImage(ctx, "", func(p sandbox.PullProgress) {
		if p.LayersDone != last {
			last = p.LayersDone
			c.log.Info().Str("image", p.Image).Int("layers_done", p.LayersDone).Int("layers", p.Layers).Msg("pulling the sandbox image")
		}
	})
	if err != nil {
		sb.Close()
		return nil, err
	}
	sb.WarmUp()
	return sb, nil
}

// watch returns when ctx ends (nil) or Docker stops answering (why).
func (c *sandboxComponent) watch(ctx context.Context, sb *sandbox.Sandbox) error {
	for sleep(ctx, sandboxWatchEvery) {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := sb.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

func (c *sandboxComponent) set(sb *sandbox.Sandbox, why error) {
	c.mu.Lock()
	c.sb, c.why = sb, why
	c.mu.Unlock()
	c.startOnce.Do(func() { close(c.started) })
}

// reloadPolicy reads the workspace's risk policy again (SIGHUP); a bad one
// keeps the old.
func (c *sandboxComponent) reloadPolicy() error {
	p, err := risk.LoadWorkspacePolicy(c.m.cfg.Workspace)
	if err != nil {
		return fmt.Errorf("risk policy: %w", err)
	}
	c.mu.Lock()
	c.policy = p
	c.mu.Unlock()
	return nil
}

// current returns the sandbox with approver's gate, or why there is none;
// while the sandbox is still starting it waits for it, up to
// sandboxStartWait.
func (c *sandboxComponent) current(ctx context.Context, approver sandbox.Approver) (*sandbox.Sandbox, error) {
	select {
	case <-c.started:
	default:
		wait := time.NewTimer(sandboxStartWait)
		defer wait.Stop()
		select {
		case <-c.started:
		case <-wait.C:
		case <-ctx.Done():
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sb == nil {
		return nil, fmt.Errorf("%w: %v; Mai tries again by itself, and 'mai status' shows when it is back", errNoSandbox, c.why)
	}
	return c.sb.WithGate(approver, c.policy), nil
}

// gate returns a code runner over the component whose HIGH-risk jobs ask
// approver.
func (c *sandboxComponent) gate(approver sandbox.Approver) gatedSandbox {
	return gatedSandbox{c: c, approver: approver}
}

// gatedSandbox runs jobs in the component's sandbox of the moment, or says
// why there is none.
type gatedSandbox struct {
	c        *sandboxComponent
	approver sandbox.Approver
}

func (g gatedSandbox) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	sb, err := g.c.current(ctx, g.approver)
	if err != nil {
		return sandbox.Result{JobID: job.ID, ExitCode: -1}, err
	}
	return sb.Run(ctx, job)
}

func (g gatedSandbox) EnsureImage(ctx context.Context, img string, report func(sandbox.PullProgress)) error {
	sb, err := g.c.current(ctx, g.approver)
	if err != nil {
		return err
	}
	return sb.EnsureImage(ctx, img, report)
}

// Unavailable says why code cannot run now; nil when it can. While the
// sandbox is still starting it waits for it, up to sandboxStartWait.
func (g gatedSandbox) Unavailable() error {
	_, err := g.c.current(context.Background(), g.approver)
	return err
}

// Policy returns the workspace's risk policy in force now, which SIGHUP
// reloads: the self-modification pipeline analyses with it too.
func (g gatedSandbox) Policy() *risk.Policy {
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	return g.c.policy
}
