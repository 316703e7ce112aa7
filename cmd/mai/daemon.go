package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/health"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/switchlog"
	"github.com/maicompanion/mai/internal/workspace"
)

// routerProbeEvery is how often the daemon asks the backends and the GPU
// how they are while at least one backend answers; while none does, the
// probe backs off from retryFirst to retryMax.
const routerProbeEvery = 30 * time.Second

// startAudit opens the audit log (catching its anchor up after a crash)
// and the approval service, then checks the chain from the anchor onward
// (mai audit verify checks all of it). A broken chain is
// logged loudly and shown in mai status, and never repaired here: that is
// the owner's decision ('mai audit verify', 'mai audit reanchor').
func (d *daemonParts) startAudit(ctx context.Context) (func(context.Context), error) {
	m, log := d.m, d.log
	bot, err := m.discordBot(d.db, logging.Component(log, "discord"))
	if err != nil {
		return nil, fmt.Errorf("set up Discord: %w", err)
	}
	d.bot = bot
	d.wake = make(selfmodWaker, 1)
	listeners := []approval.Listener{logListener{logging.Component(log, "approvals")}, d.wake}
	if bot != nil {
		listeners = append(listeners, bot.Listener())
	}
	led, err := m.openLedger(ctx, listeners...)
	if err != nil {
		return nil, err
	}
	d.led = led
	if err := m.recordPolicy(ctx, led); err != nil {
		log.Warn().Err(err).Msg("could not record the workspace's risk policy in the audit log")
	}
	rep, err := led.log.VerifyFromAnchor(ctx)
	switch {
	case err != nil:
		d.health.Set("audit", health.Degraded, "the audit log could not be checked: "+err.Error(), err)
		log.Error().Err(err).Msg("the audit log could not be checked at start; run 'mai audit verify'")
	case !rep.OK:
		detail := fmt.Sprintf("THE AUDIT LOG IS BROKEN at entry %d (%s): %s; nothing was repaired: run 'mai audit verify'", rep.Problem.Seq, rep.Problem.Kind, rep.Problem.Message)
		d.health.Set("audit", health.Degraded, detail, errors.New(rep.Problem.Message))
		log.Error().Int64("seq", rep.Problem.Seq).Str("kind", rep.Problem.Kind).Msg(detail)
	default:
		d.health.Set("audit", health.Up, fmt.Sprintf("chain intact from the anchor to entry %d", rep.LastSeq), nil)
		log.Info().Int64("checked", rep.Entries).Int64("last_seq", rep.LastSeq).Msg("audit log checked from the anchor onward")
	}
	return func(context.Context) { led.close() }, nil
}

// startRouter builds the router and probes the backends and the GPU in the
// background, so a backend that comes up later is seen without a restart
// (the router asks the backends at every chat as well).
func (d *daemonParts) startRouter(ctx context.Context) (func(context.Context), error) {
	log := logging.Component(d.log, "router")
	d.sl = switchlog.New(d.db.DB)
	r, _, err := d.m.newRouter(ctx, log, d.sl, readWrite)
	if err != nil {
		d.health.Set("router", health.Off, "no model backend is configured (OLLAMA_ENDPOINT, LMSTUDIO_ENDPOINT): chat is off", err)
		return nil, nil
	}
	d.router = r
	if err := (&models{router: r, log: d.sl}).applyPin(ctx); err != nil {
		log.Warn().Err(err).Msg("pinned model unavailable")
	}
	d.health.Set("router", health.Starting, "probing the backends", nil)
	return goRun(ctx, d.log, "router", d.probeRouter(log)), nil
}

// probeRouter asks for the plan every routerProbeEvery while a backend
// answers, and with backoff while none does.
func (d *daemonParts) probeRouter(log zerolog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		retry := retrier{name: "router", log: log, health: d.health}
		for {
			pctx, cancel := context.WithTimeout(ctx, planTimeout)
			p := d.router.Plan(pctx)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			var reachable int
			var errs []string
			for _, e := range p.Endpoints {
				if e.Reachable {
					reachable++
				} else {
					errs = append(errs, fmt.Sprintf("%s at %s: %s", e.Backend, e.Endpoint, e.Error))
				}
			}
			wait := routerProbeEvery
			if reachable == 0 {
				wait = retry.failed(errors.New(strings.Join(errs, "; ")), "no model backend answers: chat is off until one does")
			} else {
				retry.up(fmt.Sprintf("%d of %d backends reachable", reachable, len(p.Endpoints)))
			}
			if !sleep(ctx, wait) {
				return nil
			}
		}
	}
}

// startMemory starts the backup and compression schedule and the
// background embedding of new messages.
func (d *daemonParts) startMemory(ctx context.Context) (func(context.Context), error) {
	var opts memory.Options
	if d.router != nil {
		opts = memory.Options{Embedder: d.router, Summarizer: memory.NewModelSummarizer(d.router), Vocabularies: d.router}
	} else {
		d.health.Set("memory", health.Degraded, "no model backend: recall by words only, summaries by extraction", nil)
	}
	d.mem = memory.New(d.db, opts)
	stopUpkeep := goRun(ctx, d.log, "upkeep", memoryUpkeep(d.db, d.mem, d.m.cfg, logging.Component(d.log, "upkeep")))
	stopEmbed := goRun(ctx, d.log, "embedder", embedder(d.mem, logging.Component(d.log, "memory")))
	return func(ctx context.Context) { stopEmbed(ctx); stopUpkeep(ctx) }, nil
}

// startSandbox starts the sandbox component; it reports its own state
// (Docker may answer later, and the image may need pulling).
func (d *daemonParts) startSandbox(ctx context.Context) (func(context.Context), error) {
	log := logging.Component(d.log, "sandbox")
	sc, err := newSandboxComponent(d.m, log, d.health)
	if err != nil {
		return nil, err
	}
	d.sandbox = sc
	d.health.Set("sandbox", health.Starting, "connecting to Docker", nil)
	return goRun(ctx, d.log, "sandbox", sc.run), nil
}

// startChat builds the daemon's one chat core: the owner is one user with
// one generation at a time, whether a message comes from Discord or from
// mai chat, and a /stop from either stops it.
func (d *daemonParts) startChat(ctx context.Context) (func(context.Context), error) {
	if d.router == nil {
		d.health.Set("chat", health.Off, "no model backend is configured", nil)
		return nil, nil
	}
	log := logging.Component(d.log, "chat")
	cc, err := d.m.newChatCore(ctx, log, d.router, d.sl, d.mem, d.led, approval.ViaControl, d.sandbox)
	if err != nil {
		d.health.Set("chat", health.Down, "chat is off: "+err.Error(), err)
		log.Warn().Err(err).Msg("chat is off: the chat core could not start")
		return nil, nil
	}
	d.cc = cc
	return func(context.Context) { cc.close() }, nil
}

// startControl listens on the control socket, so that mai chat, mai
// status and the memory and model commands talk to this daemon; it
// listens even when chat is off, to say why.
func (d *daemonParts) startControl(ctx context.Context) (func(context.Context), error) {
	m, log := d.m, logging.Component(d.log, "control")
	path := m.socketPath()
	ln, err := control.Listen(path)
	if err != nil {
		return nil, err
	}
	srv := &control.Server{Core: chatOff{}, User: ownerID(m.cfg), Log: log, Status: d.liveState}
	if cc := d.cc; cc != nil {
		srv.Core = cc.core
		srv.SwitchModel = func(ctx context.Context, ref string) (string, error) { return m.pinModel(ctx, d.router, d.sl, ref) }
		srv.Memory = memoryChanger{m: m, mem: d.mem, changed: cc.core.HistoryChanged}
	}
	log.Info().Str("socket", path).Str("owner", srv.User).Msg("control socket listening")
	// The server lets running answers finish for the grace period after
	// its stop.
	stop := goRun(ctx, d.log, "control", func(ctx context.Context) error { return srv.Serve(ctx, ln, d.grace) })
	return func(ctx context.Context) { stop(ctx); os.Remove(path) }, nil
}

// liveState is the daemon's status on the control socket.
func (d *daemonParts) liveState(ctx context.Context) (any, error) {
	st := liveState{Discord: discordState(d.bot), Components: d.health.Snapshot(), UptimeS: d.health.Uptime().Seconds(),
		LastErrors: d.health.LastErrors(lastErrorsShown)}
	if q, err := readQueues(ctx, d.led.db); err == nil {
		st.Queues = &q
	} else {
		d.log.Warn().Err(err).Msg("status: the queues could not be counted")
	}
	if d.router != nil {
		pctx, cancel := context.WithTimeout(ctx, planTimeout)
		defer cancel()
		st.Plan = d.router.Plan(pctx)
	}
	if d.cc != nil {
		st.Chat = d.cc.core.Status(ctx, d.cc.owner)
	}
	return st, nil
}

// chatOff answers on the control socket while the daemon has no chat core.
type chatOff struct{}

func (chatOff) Send(_ context.Context, _ chat.Message, emit func(chat.Event)) error {
	emit(chat.Event{Kind: chat.EventError, Text: "chat is off on this Mai: no model backend is configured or the chat core could not start (see 'mai status')"})
	return nil
}

func (chatOff) Decide(context.Context, string, string, bool, string) error {
	return errors.New("chat is off on this Mai; decide with 'mai approvals approve|deny ID'")
}

// startDiscord runs the Discord loop when a token and an owner are set.
func (d *daemonParts) startDiscord(ctx context.Context) (func(context.Context), error) {
	if d.bot == nil {
		d.health.Set("discord", health.Off, "no DISCORD_BOT_TOKEN or no DISCORD_USER_ID", nil)
		return nil, nil
	}
	d.health.Set("discord", health.Starting, "connecting", nil)
	log := logging.Component(d.log, "discord")
	stop := goRun(ctx, d.log, "discord", d.m.discordLoop(d.bot, d.cc, d.led, d.mem, d.health, log))
	return func(ctx context.Context) {
		// Answers being generated finish and the outbox empties before the
		// bot stops, within the grace period; what is cut off after it is
		// finished after the restart.
		d.drainDiscord(ctx, log)
		stop(ctx)
	}, nil
}

// drainDiscord holds new DMs, then waits until no answer is being
// generated and the outbox is empty, or ctx ends.
func (d *daemonParts) drainDiscord(ctx context.Context, log zerolog.Logger) {
	// New DMs are kept for the next start: answering them now would start
	// work the grace period may cut off.
	d.bot.Hold()
	log.Info().Msg("discord: new DMs are kept for the next start while running answers finish")
	for {
		busy := d.bot.Busy()
		pending, err := d.bot.Outbox().Pending(ctx)
		if err == nil && busy == 0 && pending == 0 {
			return
		}
		if !sleep(ctx, 100*time.Millisecond) {
			log.Warn().Int("answers", busy).Int("outbox", pending).Msg("Discord work left unfinished at shutdown; finished after the restart")
			return
		}
	}
}

// reload is SIGHUP: the configuration is read again and its log level
// and model preferences applied, the risk policy is read again and the
// persona checked (it is read at every turn). A configuration that does
// not load is one error line, and everything stays as it was.
func (d *daemonParts) reload(ctx context.Context) {
	log := d.log
	cfg, err := config.Load(d.m.Env, d.m.Dir)
	if err != nil {
		log.Error().Err(err).Msg("SIGHUP: the configuration does not load; keeping the running one")
		return
	}
	if err := d.logs.SetLevel(cfg.LogLevel); err != nil {
		log.Error().Err(err).Msg("SIGHUP: keeping the log level")
	}
	if d.router != nil {
		d.router.SetPreferences(router.ParsePreferences(cfg.Models, []string{"ollama", "lmstudio"}))
	}
	if d.sandbox != nil {
		if err := d.sandbox.reloadPolicy(); err != nil {
			log.Error().Err(err).Msg("SIGHUP: the risk policy does not load; keeping the running one")
		} else if err := d.m.recordPolicy(ctx, d.led); err != nil {
			log.Warn().Err(err).Msg("could not record the workspace's risk policy in the audit log")
		}
	}
	persona := "default"
	ws := workspace.Workspace{Dir: d.m.cfg.Workspace}
	if p, err := ws.Persona(); err != nil {
		log.Error().Err(err).Msg("SIGHUP: the persona cannot be read; answers use it once it can")
	} else {
		persona = fmt.Sprintf("%d bytes", len(p))
	}
	log.Info().Str("log_level", cfg.LogLevel).Strs("models", cfg.Models).Str("persona", persona).
		Msg("SIGHUP: reloaded the persona, the risk policy, the log level and the model preferences")
}
