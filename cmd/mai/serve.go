package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/doctor"
	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/lockfile"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/notify"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/selfmod"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/switchlog"
	"github.com/maicompanion/mai/internal/upkeep"
)

func (m *Main) runServe(ctx context.Context, args []string) error {
	fs := m.newFlagSet("serve", "serve [--shutdown-timeout 10s]",
		"  mai serve                          # run in the foreground; Ctrl-C stops it\n"+
			"  LOG_LEVEL=debug mai serve          # more detail in <data dir>/.logs/mai.log\n"+
			"  mai serve --shutdown-timeout 30s   # give running answers longer to finish\n"+
			"  kill -HUP $(cat <data dir>/mai.pid) # reload persona, risk policy, LOG_LEVEL, MAI_MODELS")
	grace := fs.Duration("shutdown-timeout", 10*time.Second, "how long running answers and the Discord outbox get to finish after SIGINT/SIGTERM (a second signal stops at once)")
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
	fmt.Fprintf(m.Stderr, "mai: serving; log in %s; press Ctrl-C to stop\n", logs.Path)
	sig := m.signals()
	defer sig.close()
	d := &daemonParts{m: m, logs: logs, log: logs.Logger, health: health.New(nil), grace: *grace}
	lc := &lifecycle{log: d.log, health: d.health}
	if err := d.start(ctx, lc); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *grace)
		defer cancel()
		lc.stop(stopCtx)
		return err
	}
	return d.serve(ctx, lc, sig.ch)
}

// daemonParts is mai serve's parts, kept for the status and for SIGHUP.
type daemonParts struct {
	m      *Main
	logs   *logging.Logs
	log    zerolog.Logger
	health *health.Registry
	grace  time.Duration

	db      *store.DB
	bot     *discord.Bot
	led     *ledger
	router  *router.Router // nil when no backend is configured
	sl      *switchlog.Log
	mem     *memory.Store
	sandbox *sandboxComponent
	cc      *chatCore // nil when chat could not start
	wake    selfmodWaker
	notices *notify.Notifier
}

// start starts the components in order: config and logging, the
// database, the audit log, the owner's notices, the router, memory's schedules, the sandbox,
// approvals, the chat core, the self-modification settler, the control
// socket, Discord. Only the database and the audit log are fatal; every
// other part degrades, says so once and in mai status, and is retried.
func (d *daemonParts) start(ctx context.Context, lc *lifecycle) error {
	m, cfg, log := d.m, d.m.cfg, d.log
	steps := []struct {
		name string
		fn   func(ctx context.Context) (func(context.Context), error)
	}{
		{"config", func(ctx context.Context) (func(context.Context), error) {
			logIntegrations(log, cfg)
			startupProbes(ctx, log, cfg)
			return nil, nil
		}},
		{"database", func(ctx context.Context) (func(context.Context), error) {
			db, err := store.Open(ctx, cfg.MemoryDBPath, store.Options{})
			if err != nil {
				return nil, err
			}
			d.db = db
			log.Info().Str("path", db.Path()).Msg("database open, migrations current")
			return func(context.Context) { db.Close() }, nil
		}},
		{"audit", d.startAudit},
		{"notify", d.startNotify},
		{"router", d.startRouter},
		{"memory", d.startMemory},
		{"sandbox", d.startSandbox},
		{"approvals", func(ctx context.Context) (func(context.Context), error) {
			return goRun(ctx, log, "approvals", approvalsSweeper(d.led, logging.Component(log, "approvals"))), nil
		}},
		{"chat", d.startChat},
		{"selfmod", func(ctx context.Context) (func(context.Context), error) {
			settle := m.selfmodSettler(d.led, d.wake, d.sandbox.gate(selfmod.CheckApprover{}), logging.Component(log, "selfmod"))
			return goRun(ctx, log, "selfmod", settle), nil
		}},
		{"control", d.startControl},
		{"discord", d.startDiscord},
	}
	for _, s := range steps {
		if err := lc.step(ctx, s.name, s.fn); err != nil {
			return err
		}
	}
	log.Info().Int("components", len(steps)).Msg("mai is running")
	return nil
}

// serve runs until the first SIGINT or SIGTERM (or ctx's end), reloading
// on SIGHUP, then stops the components in reverse order within the grace
// period; a second signal stops at once.
func (d *daemonParts) serve(ctx context.Context, lc *lifecycle, sig <-chan os.Signal) error {
	log := d.log
wait:
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				d.reload(ctx)
				continue
			}
			log.Info().Str("signal", s.String()).Dur("grace", d.grace).Msg("shutting down: running answers and the Discord outbox get the grace period")
			break wait
		case <-ctx.Done():
			log.Info().Msg("shutting down")
			break wait
		}
	}
	if d.notices != nil {
		d.notices.Stopping()
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.grace)
	defer cancel()
	done := make(chan struct{})
	go func() { lc.stop(stopCtx); close(done) }()
	for {
		select {
		case <-done:
			if stopCtx.Err() != nil {
				log.Warn().Dur("grace", d.grace).Msg("running work did not finish in time; stopped anyway")
				return fmt.Errorf("shutdown took longer than %s", d.grace)
			}
			log.Info().Msg("stopped cleanly")
			return nil
		case s := <-sig:
			if s == syscall.SIGHUP {
				continue
			}
			log.Warn().Str("signal", s.String()).Msg("second signal: stopping without waiting")
			return errors.New("stopped by a second signal before running work finished")
		}
	}
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

type signalSource struct {
	ch    <-chan os.Signal
	close func()
}

func (m *Main) signals() signalSource {
	if m.Signals != nil {
		return signalSource{ch: m.Signals, close: func() {}}
	}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
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
// Docker is left to the sandbox component, which says once that it is
// missing and again when it is back.
func startupProbes(ctx context.Context, log zerolog.Logger, cfg *config.Config) {
	all := doctor.Checks(cfg, doctor.Env{})
	var probes []doctor.Check
	for _, c := range all {
		switch c.Name {
		case "ollama", "lmstudio", "gpu", "git": // Docker: the sandbox component says it
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
