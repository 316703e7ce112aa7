package chat

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/router"
)

// planTimeout bounds how long a look at the backends may take.
const planTimeout = 5 * time.Second

// FromRouter returns the router as the core uses it.
func FromRouter(r *router.Router) Models { return routerModels{r} }

type routerModels struct{ r *router.Router }

// Target returns the active model, or the one the router would choose, and
// the context it is (or will be) loaded with.
func (rm routerModels) Target(ctx context.Context, tools bool) (Target, error) {
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	p := rm.r.Plan(ctx)
	ref := p.Active
	if ref == "" {
		for _, c := range p.Candidates {
			if c.Fits {
				ref = c.Ref
				break
			}
		}
	}
	if ref == "" {
		var why []string
		for _, c := range p.Candidates {
			why = append(why, c.Ref+" "+c.Reason)
		}
		for _, ep := range p.Endpoints {
			if ep.Error != "" {
				why = append(why, ep.Error)
			}
		}
		return Target{}, fmt.Errorf("%w: %s", router.ErrNoModel, strings.Join(why, "; "))
	}
	for _, ep := range p.Endpoints {
		for _, md := range ep.Installed {
			if ep.Backend+":"+md.Name != ref {
				continue
			}
			t := Target{Ref: ref, Window: min(max(md.ContextLength, 0), router.DefaultContextLength), Tools: md.Capabilities.Tools}
			if t.Window == 0 {
				t.Window = router.DefaultContextLength
			}
			for _, in := range ep.Loaded {
				if in.Model == md.Name && in.ContextLength > 0 {
					t.Window = in.ContextLength
				}
			}
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("%w: %s is no longer installed", router.ErrNoModel, ref)
}

func (rm routerModels) ChatWith(ctx context.Context, need Need, build func(Target) (llm.Request, error)) (llm.Stream, error) {
	return rm.r.ChatWithOptions(ctx, router.ChatOptions{Tools: need.Tools, Vision: need.Vision}, func(c router.Choice) (llm.Request, error) {
		return build(Target{Ref: c.Ref(), Window: c.ContextLength, Tools: c.Model.Capabilities.Tools})
	})
}

func (rm routerModels) Sees(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	return rm.r.Sees(ctx)
}

func (rm routerModels) Switch(ctx context.Context, ref string) error { return rm.r.Switch(ctx, ref) }

func (rm routerModels) Pause(ctx context.Context) (int, error) { return rm.r.UnloadOwned(ctx) }

// List returns the installed chat models, the active one marked.
func (rm routerModels) List(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	p := rm.r.Plan(ctx)
	var out []string
	for _, c := range p.Candidates {
		mark := "  "
		if c.Ref == p.Active {
			mark = "* "
		}
		out = append(out, mark+c.Ref)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no chat model is installed", router.ErrNoModel)
	}
	return out, nil
}
