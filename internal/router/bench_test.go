package router

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
)

// benchView is three endpoints with 40 models each, a few loaded, in two pools.
func benchView() view {
	v := view{pools: []poolView{{name: "gpu", bytes: 24 * gib}, {name: "lan", bytes: 12 * gib}}}
	for e, kind := range []string{"ollama", "lmstudio", "ollama"} {
		ev := endpointView{kind: kind, pool: min(e, 1), owned: map[string]bool{}}
		for i := range 40 {
			m := chatModel(fmt.Sprintf("model-%d-%d", e, i), float64(1+i), float64(1+i)*0.6)
			ev.models = append(ev.models, m)
			if i%15 == 0 {
				ev.loaded = append(ev.loaded, llm.Instance{Model: m.Name, ID: m.Name, SizeBytes: m.SizeBytes, VRAMBytes: m.SizeBytes})
				ev.owned[m.Name] = i%2 == 0
			}
		}
		v.endpoints = append(v.endpoints, ev)
	}
	return v
}

// BenchmarkDecide measures a full decision (rank 120 models, find the best
// that fits) against the cheapest thing the router must ask a backend (one
// listing of loaded models from the LM Studio test server on loopback): the
// decision should be a small fraction of it.
func BenchmarkDecide(b *testing.B) {
	v := benchView()
	prefs := ParsePreferences([]string{"ollama:model-2-39", "lmstudio:model-1-20"}, []string{"ollama", "lmstudio"})
	srv := lmstudiotest.New(b, lmstudiotest.Model{Key: "m", SizeBytes: gib})
	srv.Preload("m", 0)
	client := lmstudio.New(lmstudio.Config{Endpoint: srv.URL})
	ctx := context.Background()
	var decide, ask time.Duration
	for b.Loop() {
		t0 := time.Now()
		c, ok := v.choose(v.rank(prefs), 8192, DefaultHeadroom, nil)
		decide += time.Since(t0)
		if !ok || c.Model.Name == "" {
			b.Fatal("no choice")
		}
		t0 = time.Now()
		if _, err := client.Loaded(ctx); err != nil {
			b.Fatal(err)
		}
		ask += time.Since(t0)
	}
	b.ReportMetric(float64(decide.Nanoseconds())/float64(b.N), "ns/decision")
	b.ReportMetric(float64(decide)/float64(ask), "ratio-vs-one-listing")
}

// BenchmarkChatTarget measures what every chat pays the router once a model
// is active and known loaded: picking it, with no backend asked.
func BenchmarkChatTarget(b *testing.B) {
	c := newClock()
	f := newFake("ollama", c, chatModel("llama3.2:3b", 3, 2))
	r, err := New(Config{Endpoints: []Endpoint{{Backend: f, Pool: "gpu"}}, Pools: []Pool{{Name: "gpu", Bytes: 8 * gib}}, Now: c.Now})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cand, err := r.target(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.ensureLoaded(ctx, cand); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.target(ctx, ""); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ensureLoaded(ctx, cand); err != nil {
			b.Fatal(err)
		}
	}
}
