package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNoVision means no installed model that can see images fits or answers.
var ErrNoVision = errors.New("no model can see images")

// NoVisionError says why no vision-capable model can answer: Reasons, one
// per installed vision model that does not fit, is empty when none is
// installed.
type NoVisionError struct {
	Reasons []string
}

// Error says what is missing.
func (e *NoVisionError) Error() string {
	if len(e.Reasons) == 0 {
		return "no installed model can see images"
	}
	return "no model that can see images fits: " + strings.Join(e.Reasons, "; ")
}

// Is matches ErrNoVision.
func (e *NoVisionError) Is(target error) bool { return target == ErrNoVision }

// visionTarget returns the best-ranked vision-capable model that fits,
// made the active one in place of c, which cannot see images.
func (r *Router) visionTarget(ctx context.Context, c Candidate) (Candidate, error) {
	r.selectMu.Lock()
	defer r.selectMu.Unlock()
	v := r.look(ctx)
	ranked := v.rank(r.preferences())
	t, ok := v.choose(ranked, r.cfg.ContextLength, r.cfg.Headroom, func(x Candidate) bool { return !x.Model.Capabilities.Vision })
	if !ok {
		e := &NoVisionError{}
		for _, x := range ranked {
			if x.Model.Capabilities.Vision {
				e.Reasons = append(e.Reasons, x.Ref()+" "+v.fit(x, r.cfg.ContextLength, r.cfg.Headroom).reason())
			}
		}
		return c, e
	}
	r.setActive(t, CauseVision, fmt.Sprintf("the message carries an image and %s cannot see it", c.Ref()))
	return t, nil
}

// Sees reports whether any backend has a model installed that can see
// images, whether or not it fits now.
func (r *Router) Sees(ctx context.Context) (bool, error) {
	v := r.peek(ctx)
	var errs []error
	for _, ev := range v.endpoints {
		if ev.err != nil {
			errs = append(errs, ev.err)
		}
		for _, m := range ev.models {
			if m.Capabilities.Vision {
				return true, nil
			}
		}
	}
	if len(errs) == len(v.endpoints) {
		return false, errors.Join(errs...)
	}
	return false, nil
}
