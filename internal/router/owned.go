package router

import (
	"context"
	"fmt"
	"time"
)

// OwnedInstance is a model instance the router loaded itself.
type OwnedInstance struct {
	Backend  string // the backend's Name()
	Endpoint string // the backend's Endpoint()
	ID       string // what the backend's Unload takes
	Model    string
	LoadedAt time.Time
}

// Ledger keeps the instances the router loaded across restarts, so that a
// restarted Mai may still unload them and does not take their memory for
// someone else's. The router logs its errors and carries on: a ledger that
// cannot be written (a read-only database) only costs that memory.
type Ledger interface {
	// Instances returns the recorded instances, none when there are none.
	Instances(ctx context.Context) ([]OwnedInstance, error)
	// AddInstance records an instance the router loaded.
	AddInstance(ctx context.Context, in OwnedInstance) error
	// RemoveInstance forgets an instance; forgetting one not recorded is not an error.
	RemoveInstance(ctx context.Context, endpoint, id string) error
}

// restoreOwned reads the ledger once, before the first look: instances a
// previous run loaded are Mai's again. A read that fails is tried again at
// the next look.
func (r *Router) restoreOwned(ctx context.Context) {
	if r.cfg.Ledger == nil {
		return
	}
	r.restoreMu.Lock()
	defer r.restoreMu.Unlock()
	if r.restored {
		return
	}
	owned, err := r.cfg.Ledger.Instances(ctx)
	if err != nil {
		r.cfg.Log.Warn().Err(err).Msg("could not read which models Mai loaded before; treating them as someone else's for now")
		return
	}
	r.restored = true
	for _, in := range owned {
		for _, ep := range r.eps {
			if ep.be.Name() == in.Backend && ep.be.Endpoint() == in.Endpoint {
				ep.mu.Lock()
				ep.owned[in.ID] = true
				ep.mu.Unlock()
			}
		}
	}
}

// recordOwned adds or removes an instance in the ledger. The change
// happened whatever the caller's context does next, so it is kept.
func (r *Router) recordOwned(ctx context.Context, ep *endpoint, id, model string, add bool) {
	if r.cfg.Ledger == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var err error
	if add {
		err = r.cfg.Ledger.AddInstance(ctx, OwnedInstance{Backend: ep.be.Name(), Endpoint: ep.be.Endpoint(), ID: id, Model: model, LoadedAt: r.cfg.Now()})
	} else {
		err = r.cfg.Ledger.RemoveInstance(ctx, ep.be.Endpoint(), id)
	}
	if err != nil {
		r.cfg.Log.Warn().Err(err).Str("instance", id).Msg("could not record which models Mai loaded")
	}
}

// UnloadOwned unloads every model instance Mai loaded, on every backend,
// each after its running answers finish (at most DrainTimeout), and
// returns how many it unloaded: for an owner who needs the GPU back.
// The active model stays chosen and is loaded again by the next answer.
func (r *Router) UnloadOwned(ctx context.Context) (int, error) {
	v := r.look(ctx)
	n := 0
	for e, ev := range v.endpoints {
		for _, in := range ev.loaded {
			if !ev.owned[in.ID] {
				continue
			}
			p := r.pools[ev.pool]
			p.mu.Lock()
			err := r.evict(ctx, victim{endpoint: e, inst: in, bytes: v.instanceBytes(e, in)})
			p.mu.Unlock()
			if err != nil {
				return n, fmt.Errorf("unload %s: %w", in.ID, err)
			}
			n++
		}
	}
	return n, nil
}
