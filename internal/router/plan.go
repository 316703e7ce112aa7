package router

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm"
)

// Preference is one entry of MAI_MODELS: a model, optionally on one kind of
// backend ("ollama:qwen2.5:14b", "lmstudio:qwen/qwen3-8b").
type Preference struct {
	Backend string // "" for any backend
	Model   string
}

// String returns the preference as MAI_MODELS spells it.
func (p Preference) String() string {
	if p.Backend == "" {
		return p.Model
	}
	return p.Backend + ":" + p.Model
}

// ParsePreferences reads MAI_MODELS entries. A prefix before the first colon
// names a backend when it is one of backends; otherwise the whole entry is a
// model name (Ollama names contain colons: "qwen2.5:14b").
func ParsePreferences(entries []string, backends []string) []Preference {
	var out []Preference
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		p := Preference{Model: e}
		if kind, model, ok := strings.Cut(e, ":"); ok && slices.Contains(backends, kind) && model != "" {
			p = Preference{Backend: kind, Model: model}
		}
		out = append(out, p)
	}
	return out
}

// matches reports whether a model on a backend of kind is what p asks for.
// An Ollama name without a tag means its ":latest".
func (p Preference) matches(kind, model string) bool {
	if p.Backend != "" && p.Backend != kind {
		return false
	}
	if model == p.Model {
		return true
	}
	tag, ok := strings.CutPrefix(model, p.Model)
	return ok && tag == ":latest" && !strings.Contains(p.Model, ":")
}

// Candidate is a model on one endpoint that the router may answer with.
type Candidate struct {
	Endpoint int       // index into Config.Endpoints
	Backend  string    // the backend's Name(), e.g. "ollama"
	Model    llm.Model // as the backend lists it
}

// Ref names the candidate as MAI_MODELS and `mai models switch` do.
func (c Candidate) Ref() string { return c.Backend + ":" + c.Model.Name }

// Memory estimates. KV cache per token grows with depth and width; for the
// grouped-query-attention models people run locally (Llama 3, Qwen 2.5/3,
// Gemma 3) about 48 KiB plus 10 KiB per billion parameters at 16 bits,
// capped where very large models stop growing it. Used only when the backend
// does not report the model's shape.
const (
	kvBaseBytes     = 48 << 10
	kvPerBillion    = 10 << 10
	kvMaxPerToken   = 384 << 10
	kvUnknownParams = 128 << 10
	// bitsPerWeight guesses parameters from file size: most local models are
	// 4- to 5-bit quantisations.
	bitsPerWeight = 4.5
)

// params returns the model's parameter count, estimated from its size on
// disk when the backend did not say.
func params(m llm.Model) int64 {
	if m.Parameters > 0 {
		return m.Parameters
	}
	return int64(float64(m.SizeBytes) * 8 / bitsPerWeight)
}

// kvPerToken returns the KV cache bytes one token of context costs.
func kvPerToken(m llm.Model) int64 {
	if m.KVBytesPerToken > 0 {
		return m.KVBytesPerToken
	}
	p := params(m)
	if p == 0 {
		return kvUnknownParams
	}
	return min(kvBaseBytes+int64(float64(kvPerBillion)*float64(p)/1e9), kvMaxPerToken)
}

// contextFor returns the context length to load m with: the configured one,
// capped by what the model supports.
func contextFor(m llm.Model, want int) int {
	if m.ContextLength > 0 && m.ContextLength < want {
		return m.ContextLength
	}
	return want
}

// Need returns the memory loading m with a context of ctxLen tokens takes:
// its weights plus the KV cache. Headroom is added by the planner.
func Need(m llm.Model, ctxLen int) int64 {
	w := m.SizeBytes
	if w == 0 {
		w = int64(float64(params(m)) * bitsPerWeight / 8)
	}
	return w + kvPerToken(m)*int64(contextFor(m, ctxLen))
}

// view is what the planner knows of every endpoint at one moment. The
// decisions below are pure functions of it, so that they are tested with
// plain values and cost microseconds.
type view struct {
	endpoints []endpointView
	pools     []poolView
}

type endpointView struct {
	kind   string
	pool   int
	models []llm.Model
	loaded []llm.Instance
	err    error           // the backend did not answer; its models are not candidates
	owned  map[string]bool // instance ids Mai loaded
	seen   map[string]seenSize
	split  bool                 // the backend spreads a model over several GPUs
	noFit  map[string]time.Time // models whose load failed on a pool of unknown size
	gone   []string             // instances Mai loaded that are no longer loaded
}

// seenSize is the memory a model was measured to take, loaded with a context.
type seenSize struct {
	bytes   int64
	context int // 0 when the backend did not say
}

type poolView struct {
	name     string
	bytes    int64 // what models may use in total: the memory less other programs' share
	cpu      bool  // RAM, not VRAM
	cores    int   // CPU cores to answer with, on a RAM pool; 0 for no limit
	headroom int64 // kept free beside the models; negative for none
	unknown  bool  // the size is not known: models are tried
	// Measured by a GPU probe at this look; zero without one.
	devices  []gpu.Device
	foreign  int64  // memory other programs use
	probeErr string // why the probe failed; the last reading is used
}

// measure sets pool p's budget from its GPUs as read now: what is free plus
// what the pool's model servers hold, which is the memory less what other
// programs use. The servers' figures and the driver's are read a moment
// apart, so other programs' share is never taken as negative.
func (v *view) measure(p int, devs []gpu.Device) {
	var total, used, models int64
	for _, d := range devs {
		total += max(d.Total, 0)
		used += max(d.Used, 0)
	}
	for e, ep := range v.endpoints {
		if ep.pool != p {
			continue
		}
		for _, in := range ep.loaded {
			models += v.instanceBytes(e, in)
		}
	}
	pv := &v.pools[p]
	pv.devices, pv.foreign = devs, max(used-models, 0)
	pv.bytes = total - pv.foreign
}

// oneCard returns the most a model that cannot be split may take in pool
// p: on the GPU with the most free memory, plus what Mai may evict, but
// never more than that card holds. 0 when the pool is not several GPUs.
func (v *view) oneCard(p int, evictable int64) int64 {
	pv := v.pools[p]
	if len(pv.devices) < 2 {
		return 0
	}
	var best int64
	for _, d := range pv.devices {
		best = max(best, min(max(d.Free, 0)+evictable, d.Total))
	}
	return best
}

// cpuParamsPerCore bounds the model size a RAM pool is planned with: on the
// CPU a 4-bit model answers at a readable pace up to roughly 1.5 billion
// parameters per core. Slower answers would downgrade anyway; this avoids
// loading them in the first place.
const cpuParamsPerCore = 1.5e9

// resident returns the instance of model on endpoint e, if loaded.
func (v *view) resident(e int, model string) (llm.Instance, bool) {
	for _, in := range v.endpoints[e].loaded {
		if in.Model == model || in.ID == model {
			return in, true
		}
	}
	return llm.Instance{}, false
}

// instanceBytes is the memory an instance holds in its pool: the VRAM the
// backend reports (Ollama), else the larger of its reported size and the
// estimate for its context (LM Studio reports only the weights' size).
func (v *view) instanceBytes(e int, in llm.Instance) int64 {
	if !v.pools[v.endpoints[e].pool].cpu && in.VRAMBytes > 0 {
		return in.VRAMBytes
	}
	b := in.SizeBytes
	if in.ContextLength > 0 || b == 0 {
		for _, m := range v.endpoints[e].models {
			if m.Name == in.Model {
				b = max(b, Need(m, max(in.ContextLength, 1)))
				break
			}
		}
	}
	return b
}

// usage returns the memory used in pool p and how much of it Mai may free by
// unloading what it loaded itself, except keep (the candidate being placed).
func (v *view) usage(p int, keep Candidate) (used, evictable int64) {
	for e, ep := range v.endpoints {
		if ep.pool != p {
			continue
		}
		for _, in := range ep.loaded {
			b := v.instanceBytes(e, in)
			used += b
			if ep.owned[in.ID] && !(e == keep.Endpoint && in.Model == keep.Model.Name) {
				evictable += b
			}
		}
	}
	return used, evictable
}

// fit says whether c can be answered from: loaded already, or loadable into
// its pool's free memory plus what Mai may evict.
type fit struct {
	ok        bool
	loaded    bool
	need      int64 // bytes to load it, headroom included; 0 when loaded
	free      int64 // bytes free in its pool now
	evictable int64
	cpu       bool
	slowCPU   int   // > 0: too big for that many CPU cores
	oneCard   int64 // > 0: the model cannot be split, and one GPU offers only this
	unknown   bool  // the pool's size is unknown: the model is tried
	failed    bool  // loading it there failed not long ago
}

// reason says in words why the candidate fits or not; it is built only
// when asked, since deciding looks at many candidates.
func (f fit) reason() string {
	switch {
	case f.loaded:
		return "loaded"
	case f.failed:
		return "failed to load on that server not long ago (taken as not fitting there)"
	case f.unknown:
		return "may fit: that server's memory is unknown, so it is tried"
	case f.oneCard > 0 && !f.ok:
		return fmt.Sprintf("needs %s on one GPU, at most %s there (the backend cannot split a model across GPUs)", gb(f.need), gb(f.oneCard))
	case f.slowCPU > 0:
		return fmt.Sprintf("is too big to answer in time on %d CPU cores", f.slowCPU)
	case f.ok && f.need <= f.free:
		return "fits"
	case f.ok:
		return "fits after unloading models Mai loaded"
	}
	mem := "VRAM"
	if f.cpu {
		mem = "RAM"
	}
	return fmt.Sprintf("needs %s of %s, %s free", gb(f.need), mem, gb(max(f.free+f.evictable, 0)))
}

func (v *view) fit(c Candidate, ctxLen int, headroom int64) fit {
	if _, ok := v.resident(c.Endpoint, c.Model.Name); ok {
		return fit{ok: true, loaded: true}
	}
	p := v.endpoints[c.Endpoint].pool
	used, evictable := v.usage(p, c)
	need := Need(c.Model, ctxLen)
	if s, ok := v.endpoints[c.Endpoint].seen[c.Model.Name]; ok && (s.context == 0 || s.context == contextFor(c.Model, ctxLen)) {
		need = max(need, s.bytes)
	}
	pl := v.pools[p]
	if pl.headroom != 0 {
		headroom = max(pl.headroom, 0)
	}
	f := fit{need: need + headroom, free: pl.bytes - used, evictable: evictable, cpu: pl.cpu}
	f.ok = f.need <= f.free+f.evictable
	if pl.unknown {
		_, f.failed = v.endpoints[c.Endpoint].noFit[c.Model.Name]
		f.ok, f.unknown = !f.failed, true
	}
	if one := v.oneCard(p, evictable); one > 0 && !v.endpoints[c.Endpoint].split {
		f.oneCard = one
		f.ok = f.ok && f.need <= one
	}
	if pl.cpu && pl.cores > 0 && float64(params(c.Model)) > float64(pl.cores)*cpuParamsPerCore {
		f.ok, f.slowCPU = false, pl.cores
	}
	return f
}

func gb(b int64) string { return fmt.Sprintf("%.1f GB", float64(b)/(1<<30)) }

// rank returns the chat models of reachable endpoints, best first: the
// preference list in its order, then the rest by size, largest first (a
// model not listed still beats no answer).
func (v *view) rank(prefs []Preference) []Candidate {
	n := 0
	for _, ep := range v.endpoints {
		n += len(ep.models)
	}
	all := make([]Candidate, 0, n)
	for e, ep := range v.endpoints {
		if ep.err != nil {
			continue
		}
		for _, m := range ep.models {
			if m.Capabilities.Chat {
				all = append(all, Candidate{Endpoint: e, Backend: ep.kind, Model: m})
			}
		}
	}
	// Sort keys computed once per candidate, not once per comparison.
	type key struct {
		pref, idx int
		params    int64
	}
	keys := make([]key, len(all))
	for i, c := range all {
		keys[i] = key{pref: len(prefs), idx: i, params: params(c.Model)}
		for j, p := range prefs {
			if p.matches(c.Backend, c.Model.Name) {
				keys[i].pref = j
				break
			}
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.pref, b.pref); c != 0 {
			return c
		}
		if c := cmp.Compare(b.params, a.params); c != 0 {
			return c
		}
		ca, cb := &all[a.idx], &all[b.idx]
		if c := cmp.Compare(ca.Endpoint, cb.Endpoint); c != 0 {
			return c
		}
		return strings.Compare(ca.Model.Name, cb.Model.Name)
	})
	out := make([]Candidate, len(all))
	for i, k := range keys {
		out[i] = all[k.idx]
	}
	all = out
	return all
}

// choose returns the best-ranked candidate that fits and that skip does not
// exclude.
func (v *view) choose(ranked []Candidate, ctxLen int, headroom int64, skip func(Candidate) bool) (Candidate, bool) {
	for _, c := range ranked {
		if skip != nil && skip(c) {
			continue
		}
		if v.fit(c, ctxLen, headroom).ok {
			return c, true
		}
	}
	return Candidate{}, false
}

// indexOf returns c's position in ranked, or len(ranked) when absent.
func indexOf(ranked []Candidate, c Candidate) int {
	for i, r := range ranked {
		if r.Endpoint == c.Endpoint && r.Model.Name == c.Model.Name {
			return i
		}
	}
	return len(ranked)
}
