// Package router decides which model answers, on which backend, within the
// memory each GPU (or the RAM, without one) offers. It is the one place that
// sees Ollama and LM Studio together: it loads one model at a time per
// memory pool, never loads a loaded model again, unloads only what Mai
// itself loaded and only once its running answers finish, fails over to the
// next model in the middle of an answer, and switches model on the owner's
// request, on failures, on slowness and back up when room returns.
package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm"
)

// Defaults of Config.
const (
	DefaultContextLength = 8192
	DefaultHeadroom      = 512 << 20 // compute buffers and the display's share
	DefaultDrainTimeout  = 2 * time.Minute
	// modelsTTL is how long a backend's list of installed models is reused;
	// what is loaded is asked afresh for every decision.
	modelsTTL = time.Minute
	// residentTTL is how long a model seen loaded is trusted to still be,
	// sparing each chat a round of listing calls. Were it unloaded meanwhile,
	// both Ollama and LM Studio load it again on the chat request.
	residentTTL = 15 * time.Second
	// maxSwitches bounds the in-memory switch history.
	maxSwitches = 100
	// noFitTTL is how long a model whose load failed on a pool of unknown
	// size counts as not fitting there; the server's load may change.
	noFitTTL = 10 * time.Minute
)

// ErrNoModel means no installed chat model fits or answers.
var ErrNoModel = errors.New("no model available")

// Endpoint is one backend at one address, and the memory pool its models
// use. A local Ollama and a local LM Studio share the pool of their GPU; an
// Ollama on another machine has its own.
type Endpoint struct {
	Backend llm.Backend
	Pool    string // a Pool's Name
	// SplitsGPUs says the backend can spread one model over several GPUs
	// (llama.cpp's layer split); without it a model must fit on one card.
	SplitsGPUs bool
}

// Pool is memory that models share: one machine's GPUs, its RAM without
// a GPU, or a server on another machine.
type Pool struct {
	Name string
	// Bytes is what models may use in total: the RAM, GPU_VRAM_AVAILABLE, a
	// remote server's budget. With Probe set it is the fallback for a probe
	// that fails.
	Bytes int64
	CPU   bool // the pool is RAM
	Cores int  // on a RAM pool, the cores to answer with (CPU_CORES_AVAILABLE); 0 for no limit
	// Probe, when set, reads the pool's GPUs afresh at every plan. The
	// budget is then what is free now plus what the pool's model servers
	// hold: memory other programs use is not Mai's to plan with.
	Probe func(context.Context) ([]gpu.Device, error)
	// Headroom is kept free beside the models; Config.Headroom when 0,
	// none when negative.
	Headroom int64
	// Unknown means the pool's size is not known (a server on another
	// machine without a budget): Mai plans with what it reports loaded,
	// tries a model, and takes a failed load as "does not fit there".
	Unknown bool
}

// PoolFromProbe returns the pool of this machine: the probed (or
// overridden) VRAM, or ramBytes when there is no GPU.
func PoolFromProbe(name string, r gpu.Result, ramBytes int64) Pool {
	if r.CPUOnly() {
		return Pool{Name: name, Bytes: ramBytes, CPU: true}
	}
	return Pool{Name: name, Bytes: r.Total()}
}

// Config is what the router plans with.
type Config struct {
	Endpoints   []Endpoint
	Pools       []Pool
	Preferences []Preference // MAI_MODELS, best first; ranked by size when empty

	ContextLength int           // context to load models with; DefaultContextLength when 0
	Headroom      int64         // bytes kept free in every pool; DefaultHeadroom when 0
	KeepAlive     time.Duration // how long backends keep Mai's models when idle; their default when 0
	DrainTimeout  time.Duration // longest wait for running answers before unloading; DefaultDrainTimeout when 0
	Policy        Policy

	Now      func() time.Time // time.Now when nil; tests inject a clock
	Log      zerolog.Logger   // where switches are logged
	OnSwitch func(Switch)     // called after every switch, e.g. to store it; may be nil
	Ledger   Ledger           // keeps the instances Mai loaded across restarts; may be nil
	Cache    *ModelCache      // MODEL_CACHE_DIR: model shapes and measured sizes; may be nil
}

// Switch is one change of the active model.
type Switch struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"` // "" for the first choice
	To     string    `json:"to"`
	Cause  Cause     `json:"cause"`
	Reason string    `json:"reason"`
}

// Router chooses models and routes chats to them. It is safe for concurrent use.
type Router struct {
	cfg   Config
	eps   []*endpoint
	pools []*pool

	selectMu sync.Mutex // one selection at a time, so two requests agree

	restoreMu sync.Mutex
	restored  bool // the ledger has been read

	cacheWarned atomic.Bool // a failure to write the model cache was logged

	prefs atomic.Pointer[[]Preference] // MAI_MODELS, replaced by SetPreferences

	mu       sync.Mutex
	active   *Candidate
	track    tracker
	switches []Switch
	running  map[runKey]int
	lastUse  map[runKey]time.Time
	resident map[runKey]residence // when a model was last seen loaded, and with which context
	idle     chan struct{}        // closed and replaced whenever an answer ends
	// downgrade is the reason for a downgrade decided after an answer,
	// applied at the next chat.
	downgrade string
	// toolsTold is the model the owner was last told answers a request
	// with tools without them.
	toolsTold string
	embedder  *Candidate // the embedding model in use
}

type endpoint struct {
	be    llm.Backend
	pool  int
	split bool
	cache *ModelCache // may be nil

	mu       sync.Mutex // guards the fields below
	models   []llm.Model
	modelsAt time.Time
	owned    map[string]bool      // instance ids Mai loaded
	seen     map[string]seenSize  // model → memory measured while loaded
	noFit    map[string]time.Time // model → when loading it failed, on a pool of unknown size
}

type pool struct {
	Pool
	mu sync.Mutex // loads and evictions in the pool happen one at a time

	probeMu  sync.Mutex
	lastDevs []gpu.Device // the last devices Probe read, for when it fails
}

type runKey struct {
	endpoint int
	model    string
}

// New checks cfg and returns a router. Nothing is contacted until a chat,
// a switch or a plan needs it.
func New(cfg Config) (*Router, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("router: no backends configured: %w", ErrNoModel)
	}
	if cfg.ContextLength <= 0 {
		cfg.ContextLength = DefaultContextLength
	}
	if cfg.Headroom <= 0 {
		cfg.Headroom = DefaultHeadroom
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Policy = cfg.Policy.withDefaults()
	r := &Router{
		cfg:      cfg,
		track:    tracker{p: cfg.Policy},
		running:  map[runKey]int{},
		lastUse:  map[runKey]time.Time{},
		resident: map[runKey]residence{},
		idle:     make(chan struct{}),
	}
	r.prefs.Store(&cfg.Preferences)
	for _, p := range cfg.Pools {
		r.pools = append(r.pools, &pool{Pool: p})
	}
	for _, e := range cfg.Endpoints {
		i := slices.IndexFunc(cfg.Pools, func(p Pool) bool { return p.Name == e.Pool })
		if i < 0 {
			return nil, fmt.Errorf("router: %s at %s uses memory pool %q, which is not configured", e.Backend.Name(), e.Backend.Endpoint(), e.Pool)
		}
		ep := &endpoint{be: e.Backend, pool: i, split: e.SplitsGPUs, cache: cfg.Cache,
			owned: map[string]bool{}, seen: map[string]seenSize{}, noFit: map[string]time.Time{}}
		if cfg.Cache != nil {
			ep.seen = cfg.Cache.seen(e.Backend)
		}
		r.eps = append(r.eps, ep)
	}
	return r, nil
}

// SetPreferences replaces the model preference list (MAI_MODELS, reloaded
// on SIGHUP); the next choice of a model ranks by it.
func (r *Router) SetPreferences(p []Preference) { r.prefs.Store(&p) }

func (r *Router) preferences() []Preference { return *r.prefs.Load() }

// look asks every backend what it has and what is loaded, and every GPU
// how much memory is free, concurrently, and keeps what it learned in the
// model cache and the ledger.
func (r *Router) look(ctx context.Context) view {
	v := r.see(ctx, true)
	r.persist(ctx, v)
	return v
}

// persist keeps what a look learned: the instances Mai loaded that are
// gone, and what the backends reported.
func (r *Router) persist(ctx context.Context, v view) {
	for i, ev := range v.endpoints {
		for _, id := range ev.gone {
			r.recordOwned(ctx, r.eps[i], id, "", false)
		}
		if r.cfg.Cache != nil && ev.err == nil {
			if err := r.cfg.Cache.remember(r.eps[i].be, ev.models, ev.seen); err != nil && !r.cacheWarned.Swap(true) {
				r.cfg.Log.Warn().Err(err).Msg("could not write the model cache; a restart will plan with estimates")
			}
		}
	}
}

// peek is look without writing anything down, for reports.
func (r *Router) peek(ctx context.Context) view { return r.see(ctx, false) }

// see gathers the view; with forget, instances Mai loaded that are gone
// are forgotten, and listed in the view for the ledger.
func (r *Router) see(ctx context.Context, forget bool) view {
	r.restoreOwned(ctx)
	v := view{endpoints: make([]endpointView, len(r.eps)), pools: make([]poolView, len(r.pools))}
	devs := make([][]gpu.Device, len(r.pools))
	probeErrs := make([]error, len(r.pools))
	var wg sync.WaitGroup
	for i, p := range r.pools {
		v.pools[i] = poolView{name: p.Name, bytes: p.Bytes, cpu: p.CPU, cores: p.Cores, unknown: p.Unknown,
			headroom: cmp.Or(p.Headroom, r.cfg.Headroom)}
		if p.Probe != nil {
			wg.Go(func() { devs[i], probeErrs[i] = p.probe(ctx) })
		}
	}
	for i, ep := range r.eps {
		wg.Go(func() { v.endpoints[i] = ep.look(ctx, r.cfg.Now(), forget) })
	}
	wg.Wait()
	r.learn(&v)
	for i := range v.pools {
		if devs[i] != nil {
			v.measure(i, devs[i])
		}
		if probeErrs[i] != nil {
			v.pools[i].probeErr = probeErrs[i].Error()
		}
	}
	return v
}

// probe reads the pool's GPUs; when that fails it returns the last devices
// read, with the error.
func (p *pool) probe(ctx context.Context) ([]gpu.Device, error) {
	devs, err := p.Probe(ctx)
	p.probeMu.Lock()
	defer p.probeMu.Unlock()
	if err == nil && len(devs) > 0 {
		p.lastDevs = devs
		return devs, nil
	}
	if err == nil {
		err = errors.New("the GPU probe found no GPU")
	}
	if len(p.lastDevs) == 0 {
		p.lastDevs = devs // what the probe offers instead, if anything
	}
	return p.lastDevs, fmt.Errorf("VRAM probe: %w; planning with the last reading", err)
}

// learn records the memory each loaded model really takes and gives the
// view what was learned, so that fitting a model that was loaded before
// uses its measured size rather than the estimate when that is larger.
func (r *Router) learn(v *view) {
	for e, ep := range r.eps {
		ev := &v.endpoints[e]
		ep.mu.Lock()
		for _, in := range ev.loaded {
			if b := v.instanceBytes(e, in); b > 0 {
				ep.seen[in.Model] = seenSize{bytes: b, context: in.ContextLength}
			}
		}
		ev.seen = maps.Clone(ep.seen)
		ep.mu.Unlock()
	}
}

func (ep *endpoint) look(ctx context.Context, now time.Time, forget bool) endpointView {
	ev := endpointView{kind: ep.be.Name(), pool: ep.pool}
	ep.mu.Lock()
	models, fresh := ep.models, now.Sub(ep.modelsAt) < modelsTTL && ep.models != nil
	ep.mu.Unlock()
	if !fresh {
		var err error
		if models, err = ep.be.Models(ctx); err != nil {
			ev.err = err
			return ev
		}
		if ep.cache != nil {
			models = ep.cache.complete(ep.be, models)
		}
		ep.mu.Lock()
		ep.models, ep.modelsAt = models, now
		ep.mu.Unlock()
	}
	loaded, err := ep.be.Loaded(ctx)
	if err != nil {
		ev.err = err
		return ev
	}
	ev.models, ev.loaded, ev.split = models, loaded, ep.split
	ep.mu.Lock()
	for m, at := range ep.noFit {
		if now.Sub(at) >= noFitTTL {
			delete(ep.noFit, m)
		}
	}
	ev.noFit = maps.Clone(ep.noFit)
	ev.owned = make(map[string]bool, len(ep.owned))
	for _, in := range loaded {
		if ep.owned[in.ID] {
			ev.owned[in.ID] = true
		}
	}
	// Forget instances that are gone: unloaded by the backend's keep-alive
	// or by the owner.
	for id := range ep.owned {
		if forget && !ev.owned[id] {
			delete(ep.owned, id)
			ev.gone = append(ev.gone, id)
		}
	}
	ep.mu.Unlock()
	return ev
}

// Active returns the model answering now, if one was chosen.
func (r *Router) Active() (Candidate, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil {
		return Candidate{}, false
	}
	return *r.active, true
}

// Switches returns the switches since start, oldest first.
func (r *Router) Switches() []Switch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.switches)
}

// setActive makes c the active model and records why.
func (r *Router) setActive(c Candidate, cause Cause, reason string) {
	now := r.cfg.Now()
	r.mu.Lock()
	sw := Switch{At: now, To: c.Ref(), Cause: cause, Reason: reason}
	if r.active != nil {
		if r.active.Endpoint == c.Endpoint && r.active.Model.Name == c.Model.Name {
			r.mu.Unlock()
			return
		}
		sw.From = r.active.Ref()
	}
	r.active = &c
	r.track.switched(now, cause == CauseRequest)
	r.switches = append(r.switches, sw)
	if len(r.switches) > maxSwitches {
		r.switches = slices.Delete(r.switches, 0, len(r.switches)-maxSwitches)
	}
	r.mu.Unlock()
	r.cfg.Log.Info().Str("from", sw.From).Str("to", sw.To).Str("cause", string(cause)).Str("reason", reason).Msg("model switch")
	if r.cfg.OnSwitch != nil {
		r.cfg.OnSwitch(sw)
	}
}

// NoModelError says why no model can answer: each backend's error and
// each candidate's reason.
type NoModelError struct {
	Reasons []string
}

// Error lists the reasons.
func (e *NoModelError) Error() string {
	if len(e.Reasons) == 0 {
		return "no chat model is installed on any backend"
	}
	return "no model can answer: " + strings.Join(e.Reasons, "; ")
}

// Is matches ErrNoModel.
func (e *NoModelError) Is(target error) bool { return target == ErrNoModel }

func (r *Router) noModel(v view, ranked []Candidate) error {
	e := &NoModelError{}
	for i, ep := range v.endpoints {
		if ep.err != nil {
			e.Reasons = append(e.Reasons, ep.err.Error())
		} else if len(ep.models) == 0 {
			e.Reasons = append(e.Reasons, fmt.Sprintf("%s at %s has no models", ep.kind, r.eps[i].be.Endpoint()))
		}
	}
	for _, c := range ranked {
		e.Reasons = append(e.Reasons, c.Ref()+" "+v.fit(c, r.cfg.ContextLength, r.cfg.Headroom).reason())
	}
	if len(e.Reasons) == 0 {
		return &NoModelError{}
	}
	return e
}

// target returns the model to answer with, choosing one first when none is
// active and applying a pending downgrade or a due upgrade.
func (r *Router) target(ctx context.Context, downgrade string) (Candidate, error) {
	r.selectMu.Lock()
	defer r.selectMu.Unlock()
	now := r.cfg.Now()
	r.mu.Lock()
	active := r.active
	due := active != nil && downgrade == "" && r.track.checkDue(now)
	r.mu.Unlock()
	if active != nil && downgrade == "" && !due {
		return *active, nil
	}
	v := r.look(ctx)
	ranked := v.rank(r.preferences())
	switch {
	case active == nil:
		c, ok := v.choose(ranked, r.cfg.ContextLength, r.cfg.Headroom, nil)
		if !ok {
			return Candidate{}, r.noModel(v, ranked)
		}
		r.setActive(c, CauseInitial, fmt.Sprintf("best ranked model that fits (%s)", v.fit(c, r.cfg.ContextLength, r.cfg.Headroom).reason()))
		return c, nil
	case downgrade != "":
		at := indexOf(ranked, *active)
		c, ok := v.choose(ranked, r.cfg.ContextLength, r.cfg.Headroom, func(c Candidate) bool { return indexOf(ranked, c) <= at })
		if ok {
			r.setActive(c, CauseLatency, downgrade)
			return c, nil
		}
		r.cfg.Log.Warn().Str("model", active.Ref()).Str("reason", downgrade).Msg("too slow, but no smaller model fits")
		return *active, nil
	default:
		at := indexOf(ranked, *active)
		c, ok := v.choose(ranked, r.cfg.ContextLength, r.cfg.Headroom, func(c Candidate) bool { return indexOf(ranked, c) >= at })
		r.mu.Lock()
		up := r.track.headroom(now, ok)
		r.mu.Unlock()
		if up {
			r.setActive(c, CauseUpgrade, fmt.Sprintf("ranked higher and has fitted for %s", r.cfg.Policy.UpgradeAfter))
			return c, nil
		}
		return *active, nil
	}
}

// toolTarget returns the model to answer a request that carries tools when
// the active one, c, takes none: the best-ranked tool-capable model that
// fits, made the active one — unless the owner chose c. The notice, when
// not empty, tells the owner that c answers without tools and why.
func (r *Router) toolTarget(ctx context.Context, c Candidate) (Candidate, string) {
	r.selectMu.Lock()
	defer r.selectMu.Unlock()
	r.mu.Lock()
	pinned := r.track.pinned
	r.mu.Unlock()
	if pinned {
		return c, r.toolNotice(c, fmt.Sprintf("%s takes no tools and was chosen by the owner; it answers without them", c.Ref()))
	}
	v := r.look(ctx)
	ranked := v.rank(r.preferences())
	t, ok := v.choose(ranked, r.cfg.ContextLength, r.cfg.Headroom, func(x Candidate) bool { return !x.Model.Capabilities.Tools })
	if !ok {
		why := "none is installed"
		for _, x := range ranked {
			if x.Model.Capabilities.Tools {
				why = x.Ref() + " " + v.fit(x, r.cfg.ContextLength, r.cfg.Headroom).reason()
				break
			}
		}
		return c, r.toolNotice(c, fmt.Sprintf("no model that takes tools is loaded or fits (%s); %s answers without them", why, c.Ref()))
	}
	r.setActive(t, CauseTools, fmt.Sprintf("the request carries tools and %s takes none", c.Ref()))
	return t, ""
}

// toolNotice returns notice the first time in a row that c answers a
// request with tools without them, "" after that.
func (r *Router) toolNotice(c Candidate, notice string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.toolsTold == c.Ref() {
		return ""
	}
	r.toolsTold = c.Ref()
	return notice
}

// Switch makes the model named ref ("ollama:qwen2.5:14b", or a bare model
// name) the active one at the owner's request, loading it now. Automatic
// upgrades stop until a failure or slowness moves the router off it.
func (r *Router) Switch(ctx context.Context, ref string) error {
	r.selectMu.Lock()
	defer r.selectMu.Unlock()
	v := r.look(ctx)
	ranked := v.rank(r.preferences())
	kinds := make([]string, len(r.eps))
	for i, ep := range r.eps {
		kinds[i] = ep.be.Name()
	}
	prefs := ParsePreferences([]string{ref}, kinds)
	if len(prefs) == 0 {
		return errors.New("switch: name a model, e.g. ollama:llama3.2:3b")
	}
	i := slices.IndexFunc(ranked, func(c Candidate) bool { return prefs[0].matches(c.Backend, c.Model.Name) })
	if i < 0 {
		refs := make([]string, len(ranked))
		for j, c := range ranked {
			refs[j] = c.Ref()
		}
		return &llm.ModelNotFoundError{Backend: strings.Join(slices.Compact(slices.Sorted(slices.Values(kinds))), " or "), Model: ref, Available: refs}
	}
	c := ranked[i]
	if f := v.fit(c, r.cfg.ContextLength, r.cfg.Headroom); !f.ok {
		return fmt.Errorf("switch to %s: it %s; unload something or lower its context", c.Ref(), f.reason())
	}
	if _, err := r.ensureLoaded(ctx, c); err != nil {
		return fmt.Errorf("switch to %s: %w", c.Ref(), err)
	}
	r.setActive(c, CauseRequest, "the owner asked for it")
	return nil
}

// residence is a model seen loaded: when, and the context it holds.
type residence struct {
	at      time.Time
	context int
}

// ensureLoaded makes c resident, unless it is, and returns the context
// length it is loaded with: it unloads what Mai loaded in the same pool,
// least recently used first and after its running answers finish, until c
// fits. Loads in a pool happen one at a time.
func (r *Router) ensureLoaded(ctx context.Context, c Candidate) (int, error) {
	key := runKey{c.Endpoint, c.Model.Name}
	r.mu.Lock()
	seen, ok := r.resident[key]
	r.mu.Unlock()
	if ok && r.cfg.Now().Sub(seen.at) < residentTTL {
		return seen.context, nil
	}
	p := r.pools[r.eps[c.Endpoint].pool]
	p.mu.Lock()
	defer p.mu.Unlock()
	v := r.look(ctx)
	if err := v.endpoints[c.Endpoint].err; err != nil {
		return 0, err
	}
	want := contextFor(c.Model, r.cfg.ContextLength)
	if in, ok := v.resident(c.Endpoint, c.Model.Name); ok {
		return r.markResident(key, cmp.Or(in.ContextLength, want)), nil
	}
	f := v.fit(c, r.cfg.ContextLength, r.cfg.Headroom)
	if !f.ok {
		return 0, fmt.Errorf("%w: %s %s", ErrNoModel, c.Ref(), f.reason())
	}
	free := f.free
	for _, victim := range r.victims(v, c) {
		if free >= f.need {
			break
		}
		if err := r.evict(ctx, victim); err != nil {
			return 0, err
		}
		free += victim.bytes
	}
	ep := r.eps[c.Endpoint]
	in, err := ep.be.Load(ctx, c.Model.Name, llm.LoadOptions{ContextLength: want, KeepAlive: r.cfg.KeepAlive})
	if err != nil {
		if v.pools[ep.pool].unknown && ctx.Err() == nil && !errors.Is(err, llm.ErrUnreachable) {
			ep.mu.Lock()
			ep.noFit[c.Model.Name] = r.cfg.Now()
			ep.mu.Unlock()
			r.cfg.Log.Warn().Str("model", c.Ref()).Err(err).Msg("could not load the model on a server of unknown memory; taking it as not fitting there")
			return 0, fmt.Errorf("%w: %w", errNoFitThere, err)
		}
		return 0, err
	}
	ep.mu.Lock()
	ep.owned[in.ID] = true
	ep.mu.Unlock()
	r.recordOwned(ctx, ep, in.ID, in.Model, true)
	r.cfg.Log.Info().Str("model", c.Ref()).Str("instance", in.ID).Int("context", in.ContextLength).Msg("model loaded")
	return r.markResident(key, cmp.Or(in.ContextLength, want)), nil
}

// markResident notes that k is loaded with a context of ctxLen, and returns ctxLen.
func (r *Router) markResident(k runKey, ctxLen int) int {
	r.mu.Lock()
	r.resident[k] = residence{at: r.cfg.Now(), context: ctxLen}
	r.mu.Unlock()
	return ctxLen
}

type victim struct {
	endpoint int
	inst     llm.Instance
	bytes    int64
	lastUse  time.Time
}

// victims returns the instances Mai loaded in c's pool, other than c,
// least recently used first.
func (r *Router) victims(v view, c Candidate) []victim {
	var out []victim
	r.mu.Lock()
	for e, ev := range v.endpoints {
		if ev.pool != v.endpoints[c.Endpoint].pool {
			continue
		}
		for _, in := range ev.loaded {
			if !ev.owned[in.ID] || (e == c.Endpoint && in.Model == c.Model.Name) {
				continue
			}
			out = append(out, victim{e, in, v.instanceBytes(e, in), r.lastUse[runKey{e, in.Model}]})
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b victim) int { return a.lastUse.Compare(b.lastUse) })
	return out
}

// evict waits for the answers running on the victim to finish, at most
// DrainTimeout, then unloads it.
func (r *Router) evict(ctx context.Context, vi victim) error {
	key := runKey{vi.endpoint, vi.inst.Model}
	deadline := time.NewTimer(r.cfg.DrainTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		n, idle := r.running[key], r.idle
		r.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-idle:
		case <-deadline.C:
			r.cfg.Log.Warn().Str("instance", vi.inst.ID).Int("running", n).Dur("waited", r.cfg.DrainTimeout).Msg("unloading with answers still running")
			n = 0
		case <-ctx.Done():
			return fmt.Errorf("wait for answers on %s: %w", vi.inst.ID, ctx.Err())
		}
		if n == 0 {
			break
		}
	}
	ep := r.eps[vi.endpoint]
	if err := ep.be.Unload(ctx, vi.inst.ID); err != nil {
		return fmt.Errorf("make room: %w", err)
	}
	ep.mu.Lock()
	delete(ep.owned, vi.inst.ID)
	ep.mu.Unlock()
	r.recordOwned(ctx, ep, vi.inst.ID, "", false)
	r.mu.Lock()
	delete(r.resident, runKey{vi.endpoint, vi.inst.Model})
	r.mu.Unlock()
	r.cfg.Log.Info().Str("backend", ep.be.Name()).Str("instance", vi.inst.ID).Msg("model unloaded to make room")
	return nil
}

// begin and end count the answers running on a model.
func (r *Router) begin(c Candidate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := runKey{c.Endpoint, c.Model.Name}
	r.running[k]++
	r.lastUse[k] = r.cfg.Now()
}

func (r *Router) end(c Candidate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := runKey{c.Endpoint, c.Model.Name}
	if r.running[k]--; r.running[k] <= 0 {
		delete(r.running, k)
	}
	close(r.idle)
	r.idle = make(chan struct{})
}

// Choice is the model an answer comes from, loaded, and the context
// length it is loaded with (what a prompt must fit in).
type Choice struct {
	Candidate
	ContextLength int
}

// Chat streams an answer to req from the active model (choosing one on
// first use), failing over once to the next model that fits when the
// backend fails; see ChatWith. req.Model is replaced by the router's choice.
// A request that carries tools prefers a tool-capable model (see
// ChatOptions).
func (r *Router) Chat(ctx context.Context, req llm.Request) (llm.Stream, error) {
	return r.ChatWithOptions(ctx, ChatOptions{Tools: len(req.Tools) > 0}, func(Choice) (llm.Request, error) { return req, nil })
}

// ChatOptions says what a request needs from the model that answers it.
type ChatOptions struct {
	// Tools: the request carries tools. When the active model takes none
	// and the owner did not choose it, the best-ranked tool-capable model
	// that fits (the same fit rules as any choice) becomes the active one;
	// when none does, the stream begins with a notice saying so and the
	// active model answers.
	Tools bool
	// Vision: the request carries images. When the active model cannot see
	// them, the best-ranked vision-capable model that fits becomes the
	// active one (loaded like any other choice, evicting what Mai loaded
	// when it must) even over the owner's choice, since no other model can
	// answer; when none does, ChatWithOptions returns a *NoVisionError. A
	// failover moves only to another vision-capable model. Vision goes
	// before Tools: a vision model that takes no tools answers without them.
	Vision bool
}

// ChatWith streams an answer from the active model (choosing one on first
// use). build is called with the chosen model, once it is loaded and before
// the stream starts, and returns the request to send: a caller assembles
// its prompt for that model's context length there. When the backend fails
// before a tool call was asked for, the answer fails over once to the next
// model that fits: build is called again for it, and the stream yields an
// llm.EventRestart saying so, after which the answer starts afresh. A
// request's Model is replaced by the choice, and its context length, when
// unset, is the one the model is loaded with.
func (r *Router) ChatWith(ctx context.Context, build func(Choice) (llm.Request, error)) (llm.Stream, error) {
	return r.ChatWithOptions(ctx, ChatOptions{}, build)
}

// ChatWithOptions is ChatWith for a request with the needs in o.
func (r *Router) ChatWithOptions(ctx context.Context, o ChatOptions, build func(Choice) (llm.Request, error)) (llm.Stream, error) {
	r.mu.Lock()
	downgrade := r.pendingDowngrade()
	r.mu.Unlock()
	c, err := r.target(ctx, downgrade)
	if err != nil {
		return nil, err
	}
	s := &stream{r: r, ctx: ctx, build: build, vision: o.Vision}
	if o.Vision && !c.Model.Capabilities.Vision {
		if c, err = r.visionTarget(ctx, c); err != nil {
			return nil, err
		}
	}
	if o.Tools && !c.Model.Capabilities.Tools && !o.Vision {
		var notice string
		c, notice = r.toolTarget(ctx, c)
		if notice != "" {
			s.restart = &llm.Event{Kind: llm.EventNotice, Text: notice}
		}
	}
	inner, _, err := r.start(ctx, c, build)
	if err == nil {
		s.attach(c, inner)
		return s, nil
	}
	if ctx.Err() != nil || errors.Is(err, errBuild) {
		return nil, err
	}
	if ferr := s.failover(c, err); ferr != nil {
		return nil, ferr
	}
	return s, nil
}

// errNoFitThere marks a load that failed on a server whose memory is not
// known: the model is taken as not fitting there.
var errNoFitThere = fmt.Errorf("%w: it could not be loaded on a server of unknown memory", ErrNoModel)

// errBuild marks a failure of the caller's build function: not the
// backend's fault, so no reason to fail over.
var errBuild = errors.New("build the request")

// start loads c if needed, builds the request for it and starts the
// backend's stream; it returns the context length c is loaded with.
func (r *Router) start(ctx context.Context, c Candidate, build func(Choice) (llm.Request, error)) (llm.Stream, int, error) {
	ctxLen, err := r.ensureLoaded(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	req, err := build(Choice{Candidate: c, ContextLength: ctxLen})
	if err != nil {
		return nil, 0, fmt.Errorf("%w for %s: %w", errBuild, c.Ref(), err)
	}
	req.Model = c.Model.Name
	if req.KeepAlive == 0 {
		req.KeepAlive = r.cfg.KeepAlive
	}
	if req.Options.ContextLength == 0 {
		// Ollama reloads a model asked for with another context than it
		// holds; asking for the loaded one keeps it.
		req.Options.ContextLength = ctxLen
	}
	r.begin(c)
	s, err := r.eps[c.Endpoint].be.Chat(ctx, req)
	if err != nil {
		r.end(c)
		return nil, 0, err
	}
	return s, ctxLen, nil
}

// pendingDowngrade returns and clears the reason for a downgrade decided
// after the last answer. r.mu is held.
func (r *Router) pendingDowngrade() string {
	d := r.downgrade
	r.downgrade = ""
	return d
}

// answered records a finished answer of c.
func (r *Router) answered(c Candidate, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active == nil || r.active.Endpoint != c.Endpoint || r.active.Model.Name != c.Model.Name {
		return
	}
	if down, reason := r.track.answered(r.cfg.Now(), latency); down {
		r.downgrade = reason
	}
}

// failed records a failure of c and reports whether the router should move
// off it for good.
func (r *Router) failed(c Candidate, err error) (away bool, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.resident, runKey{c.Endpoint, c.Model.Name})
	if r.active == nil || r.active.Endpoint != c.Endpoint || r.active.Model.Name != c.Model.Name {
		return false, ""
	}
	if errors.Is(err, errNoFitThere) {
		// Not a failure of the model but of its place: move at once.
		return true, err.Error()
	}
	return r.track.failed(r.cfg.Now(), errors.Is(err, llm.ErrUnreachable), err)
}

// fallback returns the next model down the ranking from failed that fits,
// wrapping round to the better ones, other than failed and, when failed's
// backend is unreachable, other than anything on it. Going down first keeps
// a failover from waiting for a bigger model to load.
func (r *Router) fallback(ctx context.Context, failed Candidate, err error, vision bool) (Candidate, error) {
	v := r.look(ctx)
	ranked := v.rank(r.preferences())
	if i := indexOf(ranked, failed); i < len(ranked) {
		ranked = append(slices.Clone(ranked[i+1:]), ranked[:i]...)
	}
	unreachable := errors.Is(err, llm.ErrUnreachable)
	c, ok := v.choose(ranked, r.cfg.ContextLength, r.cfg.Headroom, func(c Candidate) bool {
		return (c.Endpoint == failed.Endpoint && (unreachable || c.Model.Name == failed.Model.Name)) || vision && !c.Model.Capabilities.Vision
	})
	if !ok {
		return Candidate{}, r.noModel(v, nil)
	}
	return c, nil
}
