package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/sandbox"
	"github.com/maicompanion/mai/internal/selfmod"
	"github.com/maicompanion/mai/internal/switchlog"
	"github.com/maicompanion/mai/internal/workspace"
)

// ownerID is the user the terminal and the control socket speak for: the
// owner's Discord id when it is set, so a DM and the terminal are one
// conversation partner; LocalUser otherwise.
func ownerID(cfg *config.Config) string {
	if cfg.DiscordUserID != "" {
		return cfg.DiscordUserID
	}
	return memory.LocalUser
}

// chatCore is the chat core with everything it was built from.
type chatCore struct {
	core  *chat.Core
	owner string
	close func()
}

// openChatCore builds the chat core in this process, over its own router
// and memory (embedding and summarising through the router, as the daemon
// does); close releases them.
func (m *Main) openChatCore(ctx context.Context, log zerolog.Logger) (*chatCore, error) {
	ms, err := m.openModels(ctx, readWrite)
	if err != nil {
		return nil, err
	}
	if err := ms.applyPin(ctx); err != nil {
		log.Warn().Err(err).Msg("pinned model unavailable")
	}
	led, err := m.openLedger(ctx)
	if err != nil {
		ms.close()
		return nil, err
	}
	mem := memory.New(ms.db, memory.Options{Embedder: ms.router, Summarizer: memory.NewModelSummarizer(ms.router)})
	cc, err := m.newChatCore(ctx, log, ms.router, ms.log, mem, led, approval.ViaTerminal, nil)
	if err != nil {
		led.close()
		ms.close()
		return nil, err
	}
	closeCore := cc.close
	cc.close = func() { closeCore(); led.close(); ms.close() }
	return cc, nil
}

// newChatCore builds the chat core over r and mem: the workspace (created
// on first start) and, when Docker answers, the sandbox behind its gate,
// whose HIGH-risk jobs become approval requests in led that the turn's
// front end shows and the owner decides (via says how the decision
// arrives). With shared (the daemon's sandbox component) code runs there
// and the core says why while Docker is away; without, the core opens a
// sandbox of its own when Docker answers. History the terminal wrote under LocalUser before an owner id
// was set becomes the owner's, and the audit log says so.
func (m *Main) newChatCore(ctx context.Context, log zerolog.Logger, r *router.Router, sl *switchlog.Log, mem *memory.Store, led *ledger, via approval.Via, shared *sandboxComponent) (*chatCore, error) {
	cfg := m.cfg
	ws, created, err := workspace.Open(ctx, cfg.Workspace)
	if errors.Is(err, workspace.ErrNotRepository) {
		return nil, fmt.Errorf("%w; move it away or point MAI_WORKSPACE elsewhere", err)
	}
	if err != nil {
		return nil, err
	}
	if created {
		log.Info().Str("path", ws.Dir).Msg("workspace created")
	}
	owner := ownerID(cfg)
	if owner != memory.LocalUser {
		n, err := mem.MergeUser(ctx, memory.LocalUser, owner)
		if err != nil {
			return nil, fmt.Errorf("merge the terminal's history into the owner's: %w", err)
		}
		if n > 0 {
			log.Info().Int64("messages", n).Str("owner", owner).Msg("terminal history merged into the owner's")
			rec := audit.Record{Actor: "mai", Action: "memory.merge_user", Subject: owner, Details: map[string]any{"from": memory.LocalUser, "messages": n}}
			if _, err := led.log.Append(ctx, rec); err != nil {
				return nil, fmt.Errorf("audit the merge of the terminal's history: %w", err)
			}
		}
	}
	cc := &chatCore{owner: owner, close: func() {}}
	// A HIGH-risk job becomes a persisted request, shown in the turn's
	// front end; Discord and mai approvals can decide it as well.
	approver := approval.CodeRun{Service: led.approvals, Requester: "mai", Created: func(ctx context.Context, r approval.Request) error {
		a := chat.Approval{ID: r.ID, Code: string(r.Payload), SHA256: r.PayloadSHA256}
		if r.Verdict != nil {
			a.Language = string(r.Verdict.Lang)
			for _, f := range r.Verdict.Findings {
				a.Findings = append(a.Findings, fmt.Sprintf("%s line %d %s: %s", f.Level, f.Line, f.Rule, f.Reason))
			}
		}
		if err := cc.core.Ask(ctx, a); err != nil {
			log.Info().Str("request", r.ID).Msg("approval request waits for a decision elsewhere")
		}
		return nil
	}}
	// In the daemon the PIN comes with the request (the client adds its
	// MAI_PIN); the daemon's own MAI_PIN does not stand in for it.
	inProcess := via != approval.ViaControl
	checkPIN := func(ctx context.Context, pin string) error { return m.chatPIN(ctx, pin, inProcess) }
	decide := func(ctx context.Context, a chat.Approval, approved bool, pin string) error {
		if err := checkPIN(ctx, pin); err != nil {
			return err
		}
		_, err := led.approvals.Decide(ctx, a.ID, approval.Decision{Approve: approved, By: approval.LocalOwner, Via: via, PayloadSHA256: a.SHA256})
		return err
	}
	var code chat.CodeRunner
	var checks selfmod.Checker
	switch {
	case shared != nil:
		code = auditedRunner{shared.gate(approver), m, led, log}
		checks = shared.gate(selfmod.CheckApprover{})
	default:
		if sb, err := m.openSandbox(ctx, "", approver); err != nil {
			log.Warn().Err(err).Msg("code execution is off until Docker answers")
		} else {
			cc.close = func() { sb.Close() }
			code = auditedRunner{sb, m, led, log}
		}
	}
	changes, closeChanges := m.chatProposer(ctx, led, r, log, checks)
	closeCode := cc.close
	cc.close = func() { closeChanges(); closeCode() }
	facts := cfg.Chat.FactsEvery
	if facts == 0 {
		facts = -1
	}
	core, err := chat.New(chat.Config{
		Models: chat.FromRouter(r), Memory: mem, Persona: ws.Persona, Code: code, Changes: changes,
		MaxToolCalls: cfg.Chat.MaxToolCalls, FactsEvery: facts, FoldAhead: true, ShowThinking: cfg.Chat.ShowThinking, Decide: decide, CheckPIN: checkPIN,
		// /switch pins and audits exactly as mai models switch does.
		Pin:       func(ctx context.Context, ref string) (string, error) { return m.pinModel(ctx, r, sl, ref) },
		AuditHead: led.auditHead,
		// Forgetting from a conversation is audited as mai memory forget is.
		Forgot: func(ctx context.Context, user, what string, details map[string]any) error {
			_, err := led.log.Append(ctx, audit.Record{Actor: user, Action: "memory.forget", Subject: what, Details: details})
			return err
		},
		Log: logging.Component(log, "chat"),
	})
	if err != nil {
		cc.close()
		return nil, err
	}
	cc.core = core
	return cc, nil
}

// auditedRunner records every run or refusal of code in a conversation
// (the model's, or the owner's /run) in the audit log, as mai sandbox run
// does; Mai is the actor, as it is of the approval request such a run
// makes, and whoever approved it is in the entry.
type auditedRunner struct {
	chat.CodeRunner
	m   *Main
	led *ledger
	log zerolog.Logger
}

func (a auditedRunner) Run(ctx context.Context, job sandbox.Job) (sandbox.Result, error) {
	res, err := a.CodeRunner.Run(ctx, job)
	id := ""
	if res.Approval != nil {
		id = res.Approval.ID
	}
	if rerr := a.m.recordRun(ctx, a.led, "mai", id, res, err); rerr != nil {
		a.log.Error().Err(rerr).Msg("sandbox run not audited")
	}
	return res, err
}

// Unavailable says why the runner cannot run code now (chat.Availability).
func (a auditedRunner) Unavailable() error {
	if av, ok := a.CodeRunner.(chat.Availability); ok {
		return av.Unavailable()
	}
	return nil
}

// chatPIN checks the PIN a chat decision or state-changing command came
// with, when one is stored, with the CLI's code (wrong ones audited, five
// lock): without one (and, with useEnv, without MAI_PIN) the front end is
// asked for it.
func (m *Main) chatPIN(ctx context.Context, pin string, useEnv bool) error {
	if stored, err := m.pinStore().Stored(); err != nil || !stored {
		return err
	}
	if pin == "" && useEnv {
		pin = m.cfg.PIN.Reveal()
	}
	if pin == "" {
		return chat.ErrPINRequired
	}
	src := m.pinInput(false)
	src.lines = bufio.NewReader(strings.NewReader(pin + "\n"))
	if err := m.requirePIN(ctx, src); err != nil {
		return fmt.Errorf("%w: %v", chat.ErrPINRequired, err)
	}
	return nil
}

// chatConn is a conversation as a front end sees it, the same whether the
// core runs in this process or in the daemon behind the control socket.
type chatConn interface {
	Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error
	Decide(ctx context.Context, id string, approved bool, pin string) error
}

// localConn is the in-process core speaking for the owner.
type localConn struct{ cc *chatCore }

func (l localConn) Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error {
	m.User = l.cc.owner
	return l.cc.core.Send(ctx, m, emit)
}

func (l localConn) Decide(ctx context.Context, id string, approved bool, pin string) error {
	return l.cc.core.Decide(ctx, l.cc.owner, id, approved, pin)
}

// remoteConn is the daemon's core, sent this CLI's MAI_PIN when a message
// or decision carries no PIN of its own, as the in-process core uses it.
type remoteConn struct {
	cl  *control.Client
	pin string
}

func (r remoteConn) Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error {
	if m.PIN == "" {
		m.PIN = r.pin
	}
	return r.cl.Send(ctx, m, emit)
}

func (r remoteConn) Decide(ctx context.Context, id string, approved bool, pin string) error {
	if pin == "" {
		pin = r.pin
	}
	return r.cl.Decide(ctx, id, approved, pin)
}

// pingTimeout bounds the look for a running daemon: on this machine it
// answers in well under a millisecond.
const pingTimeout = 500 * time.Millisecond

// socketPath is where this data directory's daemon listens.
func (m *Main) socketPath() string {
	rt, _ := m.Env("XDG_RUNTIME_DIR")
	return control.SocketPath(m.cfg.DataDir, rt)
}

// connectChat returns the daemon's conversation when a daemon answers on
// the control socket, else the core opened in this process; remote says
// which. close releases it.
func (m *Main) connectChat(ctx context.Context) (conn chatConn, remote bool, closeFn func(), err error) {
	cl := control.NewClient(m.socketPath())
	if cl.Ping(ctx, pingTimeout) == nil {
		return remoteConn{cl, m.cfg.PIN.Reveal()}, true, func() {}, nil
	}
	logs, err := m.openLogs(nil)
	if err != nil {
		return nil, false, nil, err
	}
	cc, err := m.openChatCore(ctx, logs.Logger)
	if err != nil {
		logs.Close()
		return nil, false, nil, err
	}
	return localConn{cc}, false, func() { cc.close(); logs.Close() }, nil
}
