package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/doctor"
	"github.com/maicompanion/mai/internal/lockfile"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/switchlog"
	"github.com/maicompanion/mai/internal/upkeep"
)

// component is a long-running part of the daemon. run returns when ctx is
// cancelled (after finishing what it must not lose) or when it fails.
type component struct {
	name string
	run  func(ctx context.Context) error
}

func (m *Main) runServe(ctx context.Context, args []string) error {
	fs := m.newFlagSet("serve", "serve [--shutdown-timeout 10s]",
		"  mai serve                          # run in the foreground; Ctrl-C stops it\n"+
			"  LOG_LEVEL=debug mai serve          # more detail in <data dir>/.logs/mai.log\n"+
			"  mai serve --shutdown-timeout 30s   # give running work longer to finish")
	grace := fs.Duration("shutdown-timeout", 10*time.Second, "how long to let running work finish after SIGINT/SIGTERM")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	cfg := m.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w (set MAI_DATA_DIR to a writable place)", cfg.DataDir, err)
	}
	lock, err := lockfile.Acquire(filepath.Join(cfg.DataDir, "mai.pid"))
	if err != nil {
		return err
	}
	defer lock.Release()

	logs, err := m.openLogs(m.terminalStderr())
	if err != nil {
		return err
	}
	defer logs.Close()
	log := logs.Logger
	fmt.Fprintf(m.Stderr, "mai: serving; log in %s; press Ctrl-C to stop\n", logs.Path)

	db, err := store.Open(ctx, cfg.MemoryDBPath, store.Options{})
	if err != nil {
		log.Error().Err(err).Msg("cannot open the database")
		return err
	}
	defer db.Close()
	log.Info().Str("path", db.Path()).Msg("database open, migrations current")

	logIntegrations(log, cfg)
	startupProbes(ctx, log, cfg)

	// The Discord front end, when configured, shows approval requests.
	bot, err := m.discordBot(db, logging.Component(log, "discord"))
	if err != nil {
		log.Error().Err(err).Msg("cannot set up Discord")
		return err
	}
	wake := make(selfmodWaker, 1)
	listeners := []approval.Listener{logListener{logging.Component(log, "approvals")}, wake}
	if bot != nil {
		listeners = append(listeners, bot.Listener())
	}

	// Opening the audit log catches its anchor up after a crash; the
	// approvals component sends reminders and expires unanswered requests.
	led, err := m.openLedger(ctx, listeners...)
	if err != nil {
		log.Error().Err(err).Msg("cannot open the audit log")
		return err
	}
	defer led.close()
	if err := m.recordPolicy(ctx, led); err != nil {
		log.Warn().Err(err).Msg("could not record the workspace's risk policy in the audit log")
	}

	// Memory embeds and summarises with the router's choices: the first
	// embedding model in MAI_MODELS (else the smallest installed one), and
	// the current chat model, with extraction when none answers. It counts
	// a model's tokens from the vocabulary the router finds for it.
	// The daemon's chat core uses the same router and memory.
	var memOpts memory.Options
	sl := switchlog.New(db.DB)
	r, _, err := m.newRouter(ctx, logging.Component(log, "router"), sl, readWrite)
	if err != nil {
		log.Error().Err(err).Msg("cannot plan models: memory recalls by words only and summarises by extraction, and chat is off")
		r = nil
	} else {
		memOpts = memory.Options{Embedder: r, Summarizer: memory.NewModelSummarizer(r), Vocabularies: r}
	}
	mem := memory.New(db, memOpts)
	// One chat core serves both front ends: the owner is one user with one
	// generation at a time, whether a message comes from Discord or from
	// mai chat, and a /stop from either stops it.
	cc := m.sharedChatCore(ctx, log, r, sl, mem, led)
	if cc != nil {
		defer cc.close()
	}
	comps := []component{
		{"sandbox", m.sandboxJanitor(logging.Component(log, "sandbox"))},
		{"upkeep", memoryUpkeep(db, mem, cfg, logging.Component(log, "upkeep"))},
		{"embedder", embedder(mem, logging.Component(log, "memory"))},
		{"control", m.controlSocket(logging.Component(log, "control"), r, sl, mem, cc, bot)},
		{"approvals", approvalsSweeper(led, logging.Component(log, "approvals"))},
		{"selfmod", m.selfmodSettler(led, wake, logging.Component(log, "selfmod"))},
		{"discord", m.discordLoop(bot, cc, led, mem, logging.Component(log, "discord"))},
	}
	stop := m.signals()
	defer stop.close()
	return serveUntilSignal(ctx, log, stop.ch, *grace, comps)
}

// Embedding in the background: batches of embedBatch messages, a pass
// every embedEvery (new and imported messages wait at most that long),
// waits up to embedMaxWait while no embedding model answers.
const (
	embedBatch   = 32
	embedEvery   = 30 * time.Second
	embedMaxWait = 30 * time.Minute
)

// embedder embeds new and imported messages in the background until ctx
// ends; what it stored survives a restart, which resumes the backlog.
func embedder(mem *memory.Store, log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		upkeep.Backlog{Name: "embed", Every: embedEvery, MaxWait: embedMaxWait,
			Run: func(ctx context.Context) (int, error) { return mem.EmbedPending(ctx, embedBatch) },
		}.Work(ctx, log)
		return nil
	}
}

// memoryUpkeep backs the database up daily (keeping MAI_BACKUP_KEEP copies
// in <data dir>/backups) and runs the memory compression pass daily, each at
// start-up too when overdue.
func memoryUpkeep(db *store.DB, mem *memory.Store, cfg *config.Config, log zerolog.Logger) func(context.Context) error {
	dir := filepath.Join(cfg.DataDir, "backups")
	tasks := []upkeep.Task{
		{
			Name: "backup", Every: 24 * time.Hour,
			Last: func() (time.Time, error) { return memory.LatestBackup(dir) },
			Run: func(ctx context.Context) error {
				path, err := memory.BackupRotate(ctx, db, dir, cfg.BackupKeep, time.Now())
				if err == nil {
					log.Info().Str("path", path).Int("keep", cfg.BackupKeep).Msg("database backed up")
				}
				return err
			},
		},
		{
			Name: "compress", Every: 24 * time.Hour,
			Run: func(ctx context.Context) error {
				r, err := mem.Compress(ctx, memory.CompressOptions{})
				if err == nil {
					log.Info().Int("key_points", r.KeyPoints).Int("condensed", r.Condensed).Int("archived", r.Archived).
						Int64("hot_bytes_before", r.HotBytesBefore).Int64("hot_bytes_after", r.HotBytesAfter).Msg("memory compression pass")
				}
				return err
			},
		},
	}
	return func(ctx context.Context) error {
		upkeep.Loop(ctx, log, tasks, time.Minute, nil)
		return nil
	}
}

// sharedChatCore builds the daemon's one chat core over its router and
// memory, with the pinned model applied; nil, said in the log, without a
// router (no backend configured) or when the core cannot start.
func (m *Main) sharedChatCore(ctx context.Context, log zerolog.Logger, r *router.Router, sl *switchlog.Log, mem *memory.Store, led *ledger) *chatCore {
	if r == nil {
		return nil
	}
	log = logging.Component(log, "chat")
	if err := (&models{router: r, log: sl}).applyPin(ctx); err != nil {
		log.Warn().Err(err).Msg("pinned model unavailable")
	}
	cc, err := m.newChatCore(ctx, log, r, sl, mem, led, approval.ViaControl)
	if err != nil {
		log.Warn().Err(err).Msg("chat is off: the chat core could not start")
		return nil
	}
	return cc
}

// controlSocket serves the daemon's chat core on the control socket, so
// that `mai chat` talks to this daemon, and its memory, so that the memory
// commands change it under the core's eyes. Without a chat core the daemon
// runs on without chat; r answers the status's model plan.
func (m *Main) controlSocket(log zerolog.Logger, r *router.Router, sl *switchlog.Log, mem *memory.Store, cc *chatCore, bot *discord.Bot) func(context.Context) error {
	return func(ctx context.Context) error {
		if cc == nil {
			<-ctx.Done()
			return nil
		}
		path := m.socketPath()
		ln, err := control.Listen(path)
		if err != nil {
			return err
		}
		defer os.Remove(path)
		log.Info().Str("socket", path).Str("owner", cc.owner).Msg("control socket listening")
		// Decisions and commands that change state carry the PIN, checked
		// by the core the same way in-process.
		srv := &control.Server{Core: cc.core, User: cc.owner, Log: log, Status: func(ctx context.Context) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, planTimeout)
			defer cancel()
			return liveState{Plan: r.Plan(ctx), Chat: cc.core.Status(ctx, cc.owner), Discord: discordState(bot)}, nil
		}, SwitchModel: func(ctx context.Context, ref string) (string, error) {
			return m.pinModel(ctx, r, sl, ref)
		}, Memory: memoryChanger{m: m, mem: mem, changed: cc.core.HistoryChanged}}
		return srv.Serve(ctx, ln, 5*time.Second)
	}
}

// sandboxJanitor removes the containers and volumes a crashed run left
// behind, once at start-up; without Docker it says so and does nothing.
func (m *Main) sandboxJanitor(log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		sb, err := sandbox.New(ctx, m.sandboxOptions())
		if err != nil {
			log.Warn().Err(err).Msg("code execution is off until Docker answers")
			<-ctx.Done()
			return nil
		}
		defer sb.Close()
		containers, volumes, err := sb.Cleanup(ctx)
		if err != nil {
			log.Warn().Err(err).Msg("could not remove leftover sandbox containers")
		} else {
			log.Info().Int("containers", containers).Int("volumes", volumes).Msg("removed what earlier runs left behind")
		}
		<-ctx.Done()
		return nil
	}
}

// serveUntilSignal runs the components until the first signal, then cancels
// them and waits up to grace for them to finish. A second signal, or the
// deadline, abandons the wait.
func serveUntilSignal(ctx context.Context, log zerolog.Logger, sig <-chan os.Signal, grace time.Duration, comps []component) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	failed := make(chan error, len(comps))
	for _, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				failed <- fmt.Errorf("%s: %w", c.name, err)
			}
		}()
	}
	log.Info().Int("components", len(comps)).Msg("mai is running")
	var cause error
	select {
	case s := <-sig:
		log.Info().Str("signal", s.String()).Dur("grace", grace).Msg("shutting down")
	case err := <-failed:
		log.Error().Err(err).Msg("a component failed; shutting down")
		cause = err
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		log.Info().Msg("stopped cleanly")
	case s := <-sig:
		log.Warn().Str("signal", s.String()).Msg("second signal: stopping without waiting")
		return errors.New("stopped by a second signal before running work finished")
	case <-time.After(grace):
		log.Warn().Dur("grace", grace).Msg("running work did not finish in time; stopping anyway")
		return fmt.Errorf("shutdown took longer than %s", grace)
	}
	return cause
}

type signalSource struct {
	ch    <-chan os.Signal
	close func()
}

func (m *Main) signals() signalSource {
	if m.Signals != nil {
		return signalSource{ch: m.Signals, close: func() {}}
	}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return signalSource{ch: ch, close: func() { signal.Stop(ch) }}
}

// openLogs opens the log file as configured, with readable lines also on
// console when it is not nil.
func (m *Main) openLogs(console io.Writer) (*logging.Logs, error) {
	c := m.cfg
	return logging.New(logging.Options{
		Dir: c.DataDir, Level: c.LogLevel,
		MaxSizeMB: c.Log.MaxSizeMB, MaxBackups: c.Log.MaxBackups, MaxAgeDays: c.Log.MaxAgeDays, Compress: c.Log.Compress,
		Console: console, Secrets: c.Secrets(),
	})
}

// terminalStderr returns stderr when it is a terminal, for readable log
// lines beside the JSON file; nil otherwise.
func (m *Main) terminalStderr() io.Writer {
	if isTerminal(m.Stderr) {
		return m.Stderr
	}
	return nil
}

// logIntegrations logs one summary of what is configured, then one line for
// each missing integration saying how to configure it.
func logIntegrations(log zerolog.Logger, cfg *config.Config) {
	discord := "off"
	switch {
	case cfg.DiscordBotToken != "" && cfg.DiscordUserID != "":
		discord = "on: serving the DMs of DISCORD_USER_ID"
	case cfg.DiscordBotToken != "":
		discord = "off until DISCORD_USER_ID is set"
	}
	vram := "probe"
	if cfg.GPUVRAMGB > 0 {
		vram = fmt.Sprintf("%g GB (GPU_VRAM_AVAILABLE)", cfg.GPUVRAMGB)
	}
	log.Info().
		Str("discord", discord).
		Strs("ollama", config.URLs(cfg.OllamaEndpoints)).
		Strs("lmstudio", config.URLs(cfg.LMStudioEndpoints)).
		Str("vram", vram).
		Int("cpu_cores", cfg.CPUCores).
		Str("sandbox_image", cfg.SandboxImage).
		Str("data_dir", cfg.DataDir).
		Msg("integrations")
	switch {
	case cfg.DiscordBotToken == "":
		log.Warn().Msg("Discord is off: put DISCORD_BOT_TOKEN and DISCORD_USER_ID in .env (see .env.example) to chat in DMs")
	case cfg.DiscordUserID == "":
		log.Warn().Msg("DISCORD_USER_ID is not set: Mai obeys nobody on Discord until it names you")
	}
}

// startupProbes checks the outside services once, concurrently and briefly,
// and logs what is missing with the fix — the same checks as `mai doctor`.
func startupProbes(ctx context.Context, log zerolog.Logger, cfg *config.Config) {
	all := doctor.Checks(cfg, doctor.Env{})
	var probes []doctor.Check
	for _, c := range all {
		switch c.Name {
		case "docker", "ollama", "lmstudio", "gpu", "git":
			probes = append(probes, c)
		}
	}
	for _, r := range doctor.Summarize(doctor.Run(ctx, probes, doctorTimeout)) {
		ev := log.Info()
		if r.Status != doctor.OK {
			ev = log.Warn().Str("fix", r.Fix)
		}
		ev.Str("check", r.Name).Str("status", string(r.Status)).Msg(r.Detail)
	}
}
