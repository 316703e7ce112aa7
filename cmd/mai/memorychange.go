package main

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/memory"
)

// memoryChanger changes memory for the memory commands, with the PIN check
// and the audit record: the one code path that runs in this process when
// no daemon runs, and in the daemon (over its own memory, for its control
// socket) when one does.
type memoryChanger struct {
	m   *Main
	mem *memory.Store
	// changed, when set, hears whose history changed ("" for anyone's):
	// the daemon's chat core, which then finds its conversations again.
	changed func(user string)
}

func (c memoryChanger) Forget(ctx context.Context, f control.MemoryForget, pin string) (memory.ForgetReport, error) {
	if err := c.m.chatPIN(ctx, pin, false); err != nil {
		return memory.ForgetReport{}, err
	}
	if f.Fact != 0 {
		if err := c.mem.ForgetFact(ctx, f.Fact); err != nil {
			return memory.ForgetReport{}, err
		}
		return memory.ForgetReport{Facts: 1}, c.m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "memory.forget", Subject: "fact:" + strconv.FormatInt(f.Fact, 10)})
	}
	var cut time.Time
	if f.Before != "" {
		var err error
		if cut, err = parseDate(f.Before); err != nil {
			return memory.ForgetReport{}, err
		}
	}
	r, err := c.mem.ForgetUser(ctx, f.User, cut)
	if err != nil {
		return r, err
	}
	c.tell(f.User)
	return r, c.m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "memory.forget", Subject: f.User, Details: map[string]any{
		"before": f.Before, "messages": r.Messages, "summaries": r.Summaries, "archives": r.Archives, "facts": r.Facts}})
}

func (c memoryChanger) Import(ctx context.Context, r io.Reader, o control.MemoryImport, pin string) (memory.ExportReport, error) {
	if err := c.m.chatPIN(ctx, pin, false); err != nil {
		return memory.ExportReport{}, err
	}
	rep, err := c.mem.Import(ctx, r, memory.ImportOptions{Merge: o.Merge})
	if err != nil {
		return rep, err
	}
	c.tell("")
	return rep, c.m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "memory.import", Subject: o.Source, Details: map[string]any{
		"merge": o.Merge, "users": rep.Users, "messages": rep.Messages, "turns": rep.Turns, "summaries": rep.Summaries, "facts": rep.Facts, "embeddings": rep.Embeddings}})
}

func (c memoryChanger) Compress(ctx context.Context, o control.MemoryCompress) (memory.CompressReport, error) {
	return c.mem.Compress(ctx, memory.CompressOptions{DryRun: o.DryRun})
}

func (c memoryChanger) tell(user string) {
	if c.changed != nil {
		c.changed(user)
	}
}

// memoryChanges returns the memory the memory commands change: the running
// daemon's, through its control socket, when one answers — so that its
// chat core and caches see the change — and this process's otherwise
// (summarising with the router's models when models is set). done
// releases it.
func (m *Main) memoryChanges(ctx context.Context, models bool) (mem control.Memory, done func(), err error) {
	cl := control.NewClient(m.socketPath())
	if cl.Ping(ctx, pingTimeout) == nil {
		return cl, func() {}, nil
	}
	s, done, err := m.openMemory(ctx, readWrite, models)
	if err != nil {
		return nil, nil, err
	}
	return memoryChanger{m: m, mem: s}, done, nil
}
