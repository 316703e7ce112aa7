package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// executor creates, runs and removes the hardened containers. It is
// unexported on purpose: the only way to reach it is through the gate in
// Sandbox.Run.
type executor struct {
	cli      *client.Client
	image    string
	cpuCores int
	limits   Limits
	host     string
	pid      int
	// instance tells this executor's objects from those of another one in
	// the same process; inflight holds the ids of the jobs it is running,
	// which Cleanup must not touch.
	instance string
	mu       sync.Mutex
	inflight map[string]bool
	// pool holds pre-staged containers; nil when Options.PoolSize is 0.
	pool *pool
	// execOK are the images allowed an exec scratch space (Options.ExecImages).
	execOK map[string]bool
}

func (e *executor) track(jobID string, running bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if running {
		e.inflight[jobID] = true
	} else {
		delete(e.inflight, jobID)
	}
}

func (e *executor) running(jobID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight[jobID]
}

// prepared is a validated job, ready for the engine.
type prepared struct {
	job     Job
	lang    language
	entry   string
	image   string
	limits  Limits
	tarball []byte
	// generatedID: the caller left Job.ID empty, so a warm container's
	// id may replace it.
	generatedID bool
	// warm is a pre-staged volume and containers taken from the pool.
	warm *staged
}

var jobIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

func newJobID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// prepare validates the job and fills its defaults without touching Docker.
func (e *executor) prepare(job Job) (prepared, error) {
	generated := job.ID == ""
	if generated {
		job.ID = newJobID()
	}
	if !jobIDPattern.MatchString(job.ID) {
		return prepared{}, fmt.Errorf("job id %q must be 1–64 letters, digits, '.', '_' or '-'", job.ID)
	}
	img := job.Image
	if img == "" {
		img = e.image
	}
	if job.ExecScratch && !e.execOK[img] {
		return prepared{}, fmt.Errorf("%w: image %s may not execute from its scratch space; only the images in sandbox.Options.ExecImages (SANDBOX_GO_IMAGE) may", ErrExecScratch, img)
	}
	lang, err := lookupLanguage(job.Language, img)
	if err != nil {
		return prepared{}, err
	}
	if len(job.Files) == 0 {
		return prepared{}, errors.New("job has no files to run")
	}
	entry, err := entryFile(job, lang)
	if err != nil {
		return prepared{}, err
	}
	tarball, err := filesTar(job.Files)
	if err != nil {
		return prepared{}, err
	}
	lim := job.Limits.withDefaults(e.limits)
	if e.cpuCores > 0 && lim.CPUs > float64(e.cpuCores) {
		lim.CPUs = float64(e.cpuCores)
	}
	return prepared{job: job, lang: lang, entry: entry, image: img, limits: lim, tarball: tarball, generatedID: generated}, nil
}

func (e *executor) labels(p prepared, role string) map[string]string {
	return map[string]string{
		LabelSandbox:  "1",
		LabelJob:      p.job.ID,
		LabelRole:     role,
		LabelHost:     e.host,
		LabelPID:      strconv.Itoa(e.pid),
		LabelInstance: e.instance,
		LabelLang:     p.lang.name,
	}
}

// requireImage returns ErrImageMissing when the engine does not have the
// image.
func (e *executor) requireImage(ctx context.Context, img string) error {
	_, err := e.cli.ImageInspect(ctx, img)
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: image %s is not on the Docker engine", ErrImageMissing, img)
	default:
		return e.engineErr("inspect image "+img, err)
	}
}

// engineErr wraps an engine failure, marking lost connections as ErrEngine.
func (e *executor) engineErr(step string, err error) error {
	if client.IsErrConnectionFailed(err) || isConnLost(err) {
		return fmt.Errorf("%s: %w: %w", step, ErrEngine, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

func isConnLost(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "EOF") ||
		strings.Contains(s, "broken pipe") || strings.Contains(s, "connection refused") ||
		strings.Contains(s, "no such file or directory")
}

// hostConfig is the hardening of the job container.
func (e *executor) hostConfig(p prepared, volume string) *container.HostConfig {
	lim := p.limits
	pids := lim.PIDs
	scratch := strconv.FormatInt(lim.ScratchBytes, 10)
	// noexec: nothing written at run time can be executed directly;
	// interpreters still read scripts from there. A trusted image's job
	// that asked for it (Job.ExecScratch, checked in prepare) gets exec.
	tmpfsOpts := "rw,nosuid,nodev,noexec,size=" + scratch
	if p.job.ExecScratch {
		tmpfsOpts = "rw,nosuid,nodev,exec,size=" + scratch
	}
	return &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		IpcMode:        "private",
		Privileged:     false,
		ShmSize:        lim.ScratchBytes,
		// The json-file driver would copy a flood of output to the host's
		// disk; the output is read over the attach stream instead.
		LogConfig: container.LogConfig{Type: "none"},
		// The working directory's tmpfs takes the mode of the directory the
		// engine creates for WorkingDir (0755, root), so it is owned by the
		// sandbox user instead of being world-writable.
		Tmpfs: map[string]string{
			"/tmp":  tmpfsOpts + ",mode=1777",
			workDir: tmpfsOpts + ",uid=" + sandboxUID + ",gid=" + sandboxUID + ",mode=0755",
		},
		Mounts: []mount.Mount{{
			Type: mount.TypeVolume, Source: volume, Target: codeDir, ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true},
		}},
		Resources: container.Resources{
			Memory:     lim.MemoryBytes,
			MemorySwap: lim.MemoryBytes, // equal to Memory: no swap
			NanoCPUs:   int64(lim.CPUs * 1e9),
			PidsLimit:  &pids,
			Ulimits: []*container.Ulimit{
				{Name: "nofile", Soft: lim.NoFile, Hard: lim.NoFile},
				{Name: "nproc", Soft: lim.NProc, Hard: lim.NProc},
			},
		},
	}
}

// sandboxUID is nobody (and nogroup), used as a number: not every image
// has an /etc/passwd.
const (
	sandboxUID  = "65534"
	sandboxUser = sandboxUID + ":" + sandboxUID
)

func (e *executor) config(p prepared) *container.Config {
	return &container.Config{
		Image:           p.image,
		Cmd:             p.lang.command(codeDir + "/" + p.entry),
		Entrypoint:      []string{}, // ignore the image's entrypoint
		User:            sandboxUser,
		WorkingDir:      workDir,
		Hostname:        "sandbox",
		Env:             []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + workDir, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1"},
		Labels:          e.labels(p, "job"),
		NetworkDisabled: true,
		AttachStdin:     true,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       true,
		StdinOnce:       true,
	}
}

// removal collects what a run created, to remove it whatever happens.
type removal struct {
	containers []string
	volume     string
	// pending are removals already under way; they end before the rest.
	pending []<-chan struct{}
}

// remove deletes the containers side by side, then the volume they used.
func (e *executor) remove(ctx context.Context, r removal) error {
	for _, ch := range r.pending {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	errs := make([]error, len(r.containers)+1)
	var wg sync.WaitGroup
	for i, id := range r.containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) {
				errs[i] = fmt.Errorf("remove container %.12s: %w", id, err)
			}
		}()
	}
	wg.Wait()
	if r.volume != "" {
		_, err := e.cli.VolumeRemove(ctx, r.volume, client.VolumeRemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs[len(r.containers)] = fmt.Errorf("remove volume %s: %w", r.volume, err)
		}
	}
	return errors.Join(errs...)
}

// kill sends SIGKILL on a context of its own: it must happen even when the
// caller's context is what ended the job.
func (e *executor) kill(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
}

// run executes a prepared job and removes everything it created, also on
// error or cancellation.
func (e *executor) run(ctx context.Context, p prepared) (res Result, err error) {
	start := time.Now()
	res = Result{JobID: p.job.ID, Image: p.image, ExitCode: -1}
	defer func() {
		res.Duration = time.Since(start)
		res.DurationMS = res.Duration.Milliseconds()
	}()
	if p.warm != nil && !e.alive(ctx, p.warm.container) {
		// A pooled container that died while idle (killed, engine
		// restarted): drop it and stage the job afresh.
		e.pool.discard(warmJob{id: p.job.ID, st: *p.warm})
		p.warm = nil
		go e.pool.prune(p)
	}
	if p.warm == nil {
		if err := e.requireImage(ctx, p.image); err != nil {
			return res, err
		}
	}

	e.track(p.job.ID, true)
	var rm removal
	defer func() {
		defer e.track(p.job.ID, false)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := e.remove(cctx, rm); rerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up job %s: %w", p.job.ID, rerr))
		}
	}()

	var st staged
	if p.warm != nil {
		st = *p.warm
		rm = removal{containers: []string{st.container, st.helper}, volume: st.volume}
	} else if st, err = e.stage(ctx, p, &rm); err != nil {
		return res, err
	}
	res.ContainerID = st.container
	return e.execute(ctx, p, st, &rm, res)
}

// alive reports whether a container is running.
func (e *executor) alive(ctx context.Context, id string) bool {
	info, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	return err == nil && info.Container.State != nil && info.Container.State.Running
}

// staged is what a job needs on the engine before its files arrive: a
// labelled volume, a helper container that is never started and mounts it
// read-write, and the hardened job container that mounts it read-only. A
// read-only root refuses CopyToContainer; a volume of a created container
// accepts it.
type staged struct {
	volume, helper, container string
	// att and running are set for a pooled container, attached and
	// started ahead of its job; its launcher waits for the go line.
	att     *client.HijackedResponse
	running bool
}

// stage creates the volume and both containers, recording each in rm as
// soon as it exists.
func (e *executor) stage(ctx context.Context, p prepared, rm *removal) (staged, error) {
	name := "mai-sandbox-" + p.job.ID
	vol, err := e.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: e.labels(p, "files")})
	if err != nil {
		return staged{}, e.engineErr("create volume", err)
	}
	st := staged{volume: vol.Volume.Name}
	rm.volume = st.volume
	helper, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name + "-files",
		Config: &container.Config{
			Image: p.image, Cmd: []string{"true"}, Entrypoint: []string{}, Labels: e.labels(p, "files"),
			NetworkDisabled: true,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none",
			Mounts: []mount.Mount{{
				Type: mount.TypeVolume, Source: st.volume, Target: codeDir,
				VolumeOptions: &mount.VolumeOptions{NoCopy: true},
			}},
		},
	})
	if err != nil {
		return st, e.engineErr("create files helper", err)
	}
	st.helper = helper.ID
	rm.containers = append(rm.containers, helper.ID)
	created, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name, Config: e.config(p), HostConfig: e.hostConfig(p, st.volume),
	})
	if err != nil {
		return st, e.engineErr("create container", err)
	}
	st.container = created.ID
	// The job container first: removing it releases the volume.
	rm.containers = append([]string{created.ID}, rm.containers...)
	return st, nil
}

// copyFiles writes the job's files into the volume through the helper,
// then removes the helper while the job starts (the final removal waits
// for it, and retries it if it failed).
func (e *executor) copyFiles(ctx context.Context, p prepared, st staged, rm *removal) error {
	if _, err := e.cli.CopyToContainer(ctx, st.helper, client.CopyToContainerOptions{
		DestinationPath: codeDir, Content: bytes.NewReader(p.tarball),
	}); err != nil {
		return e.engineErr("copy files into the volume", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = e.cli.ContainerRemove(rctx, st.helper, client.ContainerRemoveOptions{Force: true})
	}()
	rm.pending = append(rm.pending, done)
	return nil
}

// execute runs the staged job. The container's launcher waits for one
// line on stdin before it execs the program, so the container starts while
// the files are copied in (a pooled one has started already); then the go
// line and the job's stdin are sent, the output is read under the cap, the
// wall time is enforced and the exit state collected.
func (e *executor) execute(ctx context.Context, p prepared, st staged, rm *removal, res Result) (Result, error) {
	id := st.container
	att := st.att
	if att == nil {
		a, err := e.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			return res, e.engineErr("attach", err)
		}
		att = &a.HijackedResponse
	}
	defer att.Close()

	// Registered before start (or before the go line), so a fast exit
	// cannot be missed. Its own context: a timeout must not cancel the wait
	// we need afterwards.
	waitCtx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWait()
	wait := e.cli.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})

	started := make(chan error, 1)
	if st.running {
		started <- nil
	} else {
		go func() {
			_, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
			started <- err
		}()
	}
	copyErr := e.copyFiles(ctx, p, st, rm)
	if err := <-started; err != nil {
		return res, e.engineErr("start container", err)
	}
	if copyErr != nil {
		return res, copyErr
	}

	var killedByUs bool
	out := newOutputCap(p.limits.OutputBytes, func() { go e.kill(id) })
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(out.stdoutWriter(), out.stderrWriter(), att.Reader)
		copied <- err
	}()
	go func() {
		_, _ = att.Conn.Write(append([]byte(goLine), p.job.Stdin...))
		_ = att.CloseWrite()
	}()

	timer := time.NewTimer(p.limits.WallTime)
	defer timer.Stop()
	var exit container.WaitResponse
	var waitErr error
	select {
	case exit = <-wait.Result:
	case waitErr = <-wait.Error:
	case <-timer.C:
		res.TimedOut, killedByUs = true, true
		e.kill(id)
		exit, waitErr = awaitExit(wait, 15*time.Second)
	case <-ctx.Done():
		e.kill(id)
		return res, fmt.Errorf("job %s: %w", p.job.ID, ctx.Err())
	}
	if waitErr != nil {
		return res, e.engineErr(fmt.Sprintf("wait for job %s (the engine may have stopped or restarted mid-job)", p.job.ID), waitErr)
	}

	// The stream ends when the container exits; bound the drain anyway.
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		att.Close()
		<-copied
	}
	res.Stdout, res.Stderr, res.Truncated = out.result()
	if res.Truncated {
		killedByUs = true
	}
	res.ExitCode = int(exit.StatusCode)

	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	info, err := e.cli.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
	if err != nil {
		return res, e.engineErr("inspect finished container", err)
	}
	if st := info.Container.State; st != nil {
		res.OOMKilled = st.OOMKilled
		res.ExitCode = st.ExitCode
	}
	// SIGKILL that neither we nor the OOM killer sent: docker kill, or the
	// engine stopping the container.
	res.Killed = res.ExitCode == 137 && !killedByUs && !res.OOMKilled
	return res, nil
}

// awaitExit waits a bounded time for the exit after a kill.
func awaitExit(w client.ContainerWaitResult, limit time.Duration) (container.WaitResponse, error) {
	select {
	case r := <-w.Result:
		return r, nil
	case err := <-w.Error:
		return container.WaitResponse{}, err
	case <-time.After(limit):
		return container.WaitResponse{}, fmt.Errorf("container did not stop %s after SIGKILL", limit)
	}
}
