package router

import (
	"context"
	"fmt"
)

// UnloadOwned unloads every model instance Mai loaded, after its running
// answers finish (at most DrainTimeout), and returns how many it unloaded.
// Models the owner loaded stay. It is the owner's /pause: the GPU is theirs
// again until the next chat loads a model.
func (r *Router) UnloadOwned(ctx context.Context) (int, error) {
	r.selectMu.Lock()
	defer r.selectMu.Unlock()
	v := r.look(ctx)
	n := 0
	for e, ev := range v.endpoints {
		for _, in := range ev.loaded {
			if !ev.owned[in.ID] {
				continue
			}
			if err := r.evict(ctx, victim{endpoint: e, inst: in}); err != nil {
				return n, fmt.Errorf("unload %s: %w", in.ID, err)
			}
			n++
		}
	}
	return n, nil
}
