package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/discord"
	"github.com/maicompanion/mai/internal/health"

	"github.com/maicompanion/mai/internal/lockfile"
	"github.com/maicompanion/mai/internal/router"
)

// statusReport is `mai status --json`.
type statusReport struct {
	Daemon    daemonState     `json:"daemon"`
	Chat      string          `json:"chat,omitempty"` // the daemon's chat core, as /status says it
	Discord   string          `json:"discord"`        // off; with a daemon answering on the socket, its live connected or connecting; else not-connected (no daemon to ask)
	PinnedRef string          `json:"pinned_ref"`
	Plan      router.Plan     `json:"plan"`
	Switches  []router.Switch `json:"last_switches"` // from the database, oldest first
	// Components and UptimeS come from the running daemon (live).
	Components []health.Component `json:"components,omitempty"`
	UptimeS    float64            `json:"uptime_s,omitempty"`
	// Queues are the daemon's when it answers, else read from the database.
	Queues queueDepths `json:"queues"`
	// LastErrors are the daemon's last errors, newest first (live only).
	LastErrors []health.ErrorReport `json:"last_errors,omitempty"`
}

// lastErrorsShown is how many of the daemon's last errors status shows.
const lastErrorsShown = 5

type daemonState struct {
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
	DataDir string `json:"data_dir"`
	// Live: the plan is the daemon's own (its active model), read on the
	// control socket; else a plan made in this process.
	Live bool `json:"live"`
}

// liveState is what the daemon reports on the control socket.
type liveState struct {
	Plan    router.Plan `json:"plan"`
	Chat    string      `json:"chat,omitempty"`
	Discord string      `json:"discord,omitempty"` // the daemon's gateway session: off, connected, connecting
	// Components is each part's health, by name; UptimeS the seconds
	// since the daemon started.
	Components []health.Component   `json:"components,omitempty"`
	UptimeS    float64              `json:"uptime_s,omitempty"`
	Queues     *queueDepths         `json:"queues,omitempty"`
	LastErrors []health.ErrorReport `json:"last_errors,omitempty"`
}

// discordState is the daemon's Discord connection as status shows it.
func discordState(bot *discord.Bot) string {
	switch {
	case bot == nil:
		return "off"
	case bot.Connected():
		return "connected"
	default:
		return "connecting"
	}
}

// liveStatus returns the daemon's live state when one answers on the
// control socket (remote), else the plan of local, a router in this
// process: one path for both, as mai chat has.
func (m *Main) liveStatus(ctx context.Context, local *models) (st liveState, remote bool) {
	cl := control.NewClient(m.socketPath())
	if cl.Ping(ctx, pingTimeout) == nil {
		ctx, cancel := context.WithTimeout(ctx, planTimeout+time.Second)
		defer cancel()
		if err := cl.Status(ctx, &st); err == nil {
			return st, true
		}
	}
	return liveState{Plan: local.plan(ctx)}, false
}

func (m *Main) runStatus(ctx context.Context, args []string) error {
	fs := m.newFlagSet("status", "status [--json] [--switches N]",
		"  mai status              # daemon, backends, loaded models, VRAM plan, last switches\n"+
			"  mai status --json | jq .plan.pools")
	asJSON := fs.Bool("json", false, "print JSON")
	n := fs.Int("switches", 10, "how many of the last model switches to show")
	if _, err := m.parse(fs, args, 0); err != nil {
		return err
	}
	ms, err := m.openModels(ctx, readOnly)
	if err != nil {
		return err
	}
	defer ms.close()
	live, remote := m.liveStatus(ctx, ms)
	rep := statusReport{Daemon: daemonState{DataDir: m.cfg.DataDir, Live: remote}, Discord: "not-connected", Plan: live.Plan, Chat: live.Chat}
	lock := filepath.Join(m.cfg.DataDir, "mai.pid")
	if lockfile.Held(lock) {
		rep.Daemon.Running = true
		rep.Daemon.PID, _ = lockfile.Holder(lock)
	}
	if m.cfg.DiscordBotToken == "" || m.cfg.DiscordUserID == "" {
		rep.Discord = "off"
	}
	if remote && live.Discord != "" {
		rep.Discord = live.Discord
	}
	if remote {
		rep.Components, rep.UptimeS, rep.LastErrors = live.Components, live.UptimeS, live.LastErrors
	}
	if remote && live.Queues != nil {
		rep.Queues = *live.Queues
	} else if rep.Queues, err = readQueues(ctx, ms.db); err != nil {
		return err
	}
	if rep.PinnedRef, err = ms.log.Pinned(ctx); err != nil {
		return err
	}
	if rep.Switches, err = ms.log.Recent(ctx, *n); err != nil {
		return err
	}
	if *asJSON {
		return m.writeJSON(rep)
	}
	if rep.Daemon.Running {
		fmt.Fprintf(m.Stdout, "daemon: running (pid %d), data in %s\n", rep.Daemon.PID, rep.Daemon.DataDir)
		if rep.Daemon.Live {
			m.printComponents(rep.UptimeS, rep.Components)
			fmt.Fprintf(m.Stdout, "chat (live, from the daemon):\n  %s\n", strings.ReplaceAll(rep.Chat, "\n", "\n  "))
		}
	} else {
		fmt.Fprintf(m.Stdout, "daemon: not running (start it with 'mai serve'), data in %s\n", rep.Daemon.DataDir)
	}
	switch {
	case rep.Discord == "off":
		fmt.Fprintf(m.Stdout, "discord: off (no DISCORD_BOT_TOKEN, or no DISCORD_USER_ID)\n")
	case rep.Daemon.Live:
		fmt.Fprintf(m.Stdout, "discord: %s (live, from the daemon)\n", rep.Discord)
	default:
		fmt.Fprintf(m.Stdout, "discord: not connected (no daemon is running to connect)\n")
	}
	q := rep.Queues
	fmt.Fprintf(m.Stdout, "queues: outbox %d, approvals %d, embedding %d, notices %d\n", q.Outbox, q.Approvals, q.Embedding, q.Notices)
	if rep.Daemon.Live {
		m.printLastErrors(rep.LastErrors)
	}
	fmt.Fprintln(m.Stdout)
	m.printPlan(rep.Plan, rep.PinnedRef)
	fmt.Fprintln(m.Stdout)
	if len(rep.Switches) == 0 {
		fmt.Fprintln(m.Stdout, "no model switches yet")
	}
	for _, s := range rep.Switches {
		from := s.From
		if from == "" {
			from = "(start)"
		}
		fmt.Fprintf(m.Stdout, "%s  %s → %s  [%s] %s\n", s.At.Local().Format("2006-01-02 15:04:05"), from, s.To, s.Cause, s.Reason)
	}
	return nil
}

// printComponents prints the daemon's uptime and each component's health
// with its last error.
func (m *Main) printComponents(uptimeS float64, comps []health.Component) {
	var down []string
	for _, c := range comps {
		if c.State == health.Down || c.State == health.Degraded {
			down = append(down, c.Name)
		}
	}
	overall := "all components up"
	if len(down) > 0 {
		overall = "degraded: " + strings.Join(down, ", ")
	}
	fmt.Fprintf(m.Stdout, "up %s; %s\n", (time.Duration(uptimeS) * time.Second).String(), overall)
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	for _, c := range comps {
		line := fmt.Sprintf("  %s\t%s\tsince %s", c.Name, c.State, c.Since.Local().Format("15:04:05"))
		if c.Detail != "" {
			line += "\t" + c.Detail
		}
		fmt.Fprintln(tw, line)
		if c.LastError != "" {
			fmt.Fprintf(tw, "  \t\tlast error %s\t%s\n", c.LastErrorAt.Local().Format("15:04:05"), c.LastError)
		}
	}
	tw.Flush()
}

// printLastErrors prints the daemon's last errors, newest first.
func (m *Main) printLastErrors(errs []health.ErrorReport) {
	if len(errs) == 0 {
		fmt.Fprintln(m.Stdout, "last errors: none")
		return
	}
	fmt.Fprintln(m.Stdout, "last errors:")
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	for _, e := range errs {
		times := ""
		if e.Count > 1 {
			times = fmt.Sprintf(" (%d times in a row)", e.Count)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Component, e.Error, times)
	}
	tw.Flush()
}
