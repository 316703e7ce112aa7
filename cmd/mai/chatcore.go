package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/chat"
	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/memory"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/sandbox"
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
	mem := memory.New(ms.db, memory.Options{Embedder: ms.router, Summarizer: memory.NewModelSummarizer(ms.router)})
	cc, err := m.newChatCore(ctx, log, ms.router, mem)
	if err != nil {
		ms.close()
		return nil, err
	}
	closeCore := cc.close
	cc.close = func() { closeCore(); ms.close() }
	return cc, nil
}

// newChatCore builds the chat core over r and mem: the workspace (created
// on first start) and, when Docker answers, the sandbox behind its gate.
// History the terminal wrote under LocalUser before an owner id was set
// becomes the owner's.
func (m *Main) newChatCore(ctx context.Context, log zerolog.Logger, r *router.Router, mem *memory.Store) (*chatCore, error) {
	cfg := m.cfg
	ws, created, err := workspace.Open(ctx, cfg.Workspace)
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
		}
	}
	cc := &chatCore{owner: owner, close: func() {}}
	// The gate asks the core, which asks the owner in the turn's front end.
	approver := approverFunc(func(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
		return cc.core.Approve(ctx, req)
	})
	var code chat.CodeRunner
	if sb, err := m.openSandbox(ctx, "", approver); err != nil {
		log.Warn().Err(err).Msg("code execution is off until Docker answers")
	} else {
		cc.close = func() { sb.Close() }
		code = sb
	}
	facts := cfg.Chat.FactsEvery
	if facts == 0 {
		facts = -1
	}
	core, err := chat.New(chat.Config{
		Models: chat.FromRouter(r), Memory: mem, Persona: ws.Persona, Code: code,
		MaxToolCalls: cfg.Chat.MaxToolCalls, FactsEvery: facts, ShowThinking: cfg.Chat.ShowThinking,
		Log: logging.Component(log, "chat"),
	})
	if err != nil {
		cc.close()
		return nil, err
	}
	cc.core = core
	return cc, nil
}

type approverFunc func(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error)

func (f approverFunc) Approve(ctx context.Context, req sandbox.ApprovalRequest) (sandbox.Approval, error) {
	return f(ctx, req)
}

// chatConn is a conversation as a front end sees it, the same whether the
// core runs in this process or in the daemon behind the control socket.
type chatConn interface {
	Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error
	Decide(ctx context.Context, id string, approved bool) error
}

// localConn is the in-process core speaking for the owner.
type localConn struct{ cc *chatCore }

func (l localConn) Send(ctx context.Context, m chat.Message, emit func(chat.Event)) error {
	m.User = l.cc.owner
	return l.cc.core.Send(ctx, m, emit)
}

func (l localConn) Decide(_ context.Context, id string, approved bool) error {
	return l.cc.core.Decide(l.cc.owner, id, approved)
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
		return cl, true, func() {}, nil
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
