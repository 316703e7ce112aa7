package router

import (
	"context"

	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm"
)

// Plan is the router's view at one moment, for `mai status` and
// `mai models status`.
type Plan struct {
	Active     string          `json:"active"` // the answering model's ref, "" before the first chat
	Pinned     bool            `json:"pinned"` // the owner chose it: no automatic upgrade
	Endpoints  []EndpointPlan  `json:"endpoints"`
	Pools      []PoolPlan      `json:"pools"`
	Candidates []CandidatePlan `json:"candidates"` // best first
	Switches   []Switch        `json:"switches"`   // oldest first
}

// EndpointPlan is one backend's state.
type EndpointPlan struct {
	Backend   string         `json:"backend"`
	Endpoint  string         `json:"endpoint"`
	Pool      string         `json:"pool"`
	Reachable bool           `json:"reachable"`
	Error     string         `json:"error,omitempty"`
	Installed []llm.Model    `json:"installed"` // for `mai models list`
	Loaded    []InstancePlan `json:"loaded"`
}

// InstancePlan is a loaded model and who loaded it.
type InstancePlan struct {
	llm.Instance
	Bytes      int64 `json:"bytes"`        // counted against the pool
	OwnedByMai bool  `json:"owned_by_mai"` // Mai loaded it and may unload it
	Running    int   `json:"running"`      // answers in progress
}

// PoolPlan is one memory pool's budget.
type PoolPlan struct {
	Name          string `json:"name"`
	CPU           bool   `json:"cpu"`
	Unknown       bool   `json:"unknown,omitempty"` // a server on another machine without a budget: models are tried
	Bytes         int64  `json:"bytes"`             // what models may use: the memory less other programs' share
	Used          int64  `json:"used"`              // by loaded models, Mai's or not
	Free          int64  `json:"free"`
	OtherPrograms int64  `json:"other_programs"` // memory used by other programs, measured now; 0 without a GPU probe
	Headroom      int64  `json:"headroom"`       // kept free beside the models
	// Devices are the pool's GPUs as read for this plan.
	Devices    []gpu.Device `json:"devices,omitempty"`
	ProbeError string       `json:"probe_error,omitempty"`
}

// CandidatePlan is a model the router could answer with.
type CandidatePlan struct {
	Ref       string `json:"ref"`
	Loaded    bool   `json:"loaded"`
	Fits      bool   `json:"fits"`
	NeedBytes int64  `json:"need_bytes"` // to load it, headroom included; 0 when loaded
	Reason    string `json:"reason"`
}

// Plan asks every backend for its state and returns the router's view.
// Backends that do not answer are reported, not returned as an error. It
// writes nothing down (no model cache, no ledger): a report is a read.
func (r *Router) Plan(ctx context.Context) Plan {
	v := r.peek(ctx)
	ranked := v.rank(r.preferences())
	var p Plan
	r.mu.Lock()
	if r.active != nil {
		p.Active = r.active.Ref()
	}
	p.Pinned = r.track.pinned
	p.Switches = append([]Switch{}, r.switches...)
	running := make(map[runKey]int, len(r.running))
	for k, n := range r.running {
		running[k] = n
	}
	r.mu.Unlock()
	for i, pl := range v.pools {
		used, _ := v.usage(i, Candidate{Endpoint: -1})
		p.Pools = append(p.Pools, PoolPlan{Name: pl.name, CPU: pl.cpu, Unknown: pl.unknown, Bytes: pl.bytes, Used: used,
			Free: pl.bytes - used, OtherPrograms: pl.foreign, Headroom: max(pl.headroom, 0), Devices: pl.devices, ProbeError: pl.probeErr})
	}
	for i, ev := range v.endpoints {
		ep := EndpointPlan{
			Backend: ev.kind, Endpoint: r.eps[i].be.Endpoint(), Pool: v.pools[ev.pool].name,
			Reachable: ev.err == nil, Installed: append([]llm.Model{}, ev.models...), Loaded: []InstancePlan{},
		}
		if ev.err != nil {
			ep.Error = ev.err.Error()
		}
		for _, in := range ev.loaded {
			ep.Loaded = append(ep.Loaded, InstancePlan{
				Instance: in, Bytes: v.instanceBytes(i, in), OwnedByMai: ev.owned[in.ID], Running: running[runKey{i, in.Model}],
			})
		}
		p.Endpoints = append(p.Endpoints, ep)
	}
	p.Candidates = []CandidatePlan{}
	for _, c := range ranked {
		f := v.fit(c, r.cfg.ContextLength, r.cfg.Headroom)
		p.Candidates = append(p.Candidates, CandidatePlan{Ref: c.Ref(), Loaded: f.loaded, Fits: f.ok, NeedBytes: f.need, Reason: f.reason()})
	}
	return p
}
