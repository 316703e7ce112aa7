package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// Embed returns one vector per input and the ref of the model that made
// them. Vectors of different models do not compare, so the router keeps to
// the model it chose first while it answers; it chooses again only when that
// one fails, and the caller sees the new ref. The choice: the first
// embedding model in MAI_MODELS, else the smallest installed one.
func (r *Router) Embed(ctx context.Context, inputs []string) ([][]float32, string, error) {
	r.mu.Lock()
	c := r.embedder
	r.mu.Unlock()
	if c != nil {
		vecs, err := r.eps[c.Endpoint].be.Embed(ctx, c.Model.Name, inputs)
		if err == nil || ctx.Err() != nil {
			return vecs, c.Ref(), err
		}
		r.cfg.Log.Warn().Str("model", c.Ref()).Err(err).Msg("embedding model failed; choosing again")
	}
	v := r.look(ctx)
	for _, cand := range v.embedders(r.preferences()) {
		if c != nil && cand.Endpoint == c.Endpoint && cand.Model.Name == c.Model.Name {
			continue
		}
		vecs, err := r.eps[cand.Endpoint].be.Embed(ctx, cand.Model.Name, inputs)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", err
			}
			r.cfg.Log.Warn().Str("model", cand.Ref()).Err(err).Msg("embedding model failed")
			continue
		}
		r.mu.Lock()
		r.embedder = &cand
		r.mu.Unlock()
		r.cfg.Log.Info().Str("model", cand.Ref()).Msg("embedding model chosen")
		return vecs, cand.Ref(), nil
	}
	return nil, "", fmt.Errorf("embed: %w", ErrNoEmbedder)
}

// embedders returns the embedding models of reachable endpoints: those in
// prefs in their order, then the rest smallest first.
func (v *view) embedders(prefs []Preference) []Candidate {
	var out []Candidate
	for e, ep := range v.endpoints {
		if ep.err != nil {
			continue
		}
		for _, m := range ep.models {
			if m.Capabilities.Embedding {
				out = append(out, Candidate{Endpoint: e, Backend: ep.kind, Model: m})
			}
		}
	}
	pref := func(c Candidate) int {
		i := slices.IndexFunc(prefs, func(p Preference) bool { return p.matches(c.Backend, c.Model.Name) })
		if i < 0 {
			return len(prefs)
		}
		return i
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(pref(a), pref(b)), cmp.Compare(a.Model.SizeBytes, b.Model.SizeBytes),
			cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Model.Name, b.Model.Name))
	})
	return out
}

// ErrNoEmbedder means no embedding model is installed or answering.
var ErrNoEmbedder = errors.New("no embedding model available")
