package router

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm"
)

const gib = 1 << 30

func chatModel(name string, paramsB float64, sizeGiB float64) llm.Model {
	return llm.Model{
		Name: name, Parameters: int64(paramsB * 1e9), SizeBytes: int64(sizeGiB * gib),
		ContextLength: 32768, Capabilities: llm.Capabilities{Chat: true},
	}
}

func TestParsePreferences(t *testing.T) {
	got := ParsePreferences([]string{"ollama:qwen2.5:14b", " lmstudio:qwen/qwen3-8b ", "llama3.2:3b", "", "ollama:"}, []string{"ollama", "lmstudio"})
	want := []Preference{{"ollama", "qwen2.5:14b"}, {"lmstudio", "qwen/qwen3-8b"}, {"", "llama3.2:3b"}, {"", "ollama:"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if s := want[0].String(); s != "ollama:qwen2.5:14b" {
		t.Errorf("String() = %q", s)
	}
}

func TestRank(t *testing.T) {
	embed := llm.Model{Name: "nomic-embed-text:latest", SizeBytes: gib / 4, Capabilities: llm.Capabilities{Embedding: true}}
	v := view{
		pools: []poolView{{name: "gpu", bytes: 24 * gib}},
		endpoints: []endpointView{
			{kind: "ollama", models: []llm.Model{chatModel("llama3.2:latest", 3, 2), chatModel("qwen2.5:14b", 14, 9), embed}},
			{kind: "lmstudio", models: []llm.Model{chatModel("qwen/qwen3-8b", 8, 5), chatModel("google/gemma-3-27b", 27, 16)}},
			{kind: "ollama", err: errors.New("down"), models: []llm.Model{chatModel("huge:70b", 70, 40)}},
		},
	}
	refs := func(cs []Candidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Ref())
		}
		return out
	}
	tests := []struct {
		name  string
		prefs []string
		want  []string
	}{
		{"by size without preferences", nil, []string{"lmstudio:google/gemma-3-27b", "ollama:qwen2.5:14b", "lmstudio:qwen/qwen3-8b", "ollama:llama3.2:latest"}},
		{"preferences first, then by size", []string{"lmstudio:qwen/qwen3-8b", "ollama:llama3.2"}, []string{"lmstudio:qwen/qwen3-8b", "ollama:llama3.2:latest", "lmstudio:google/gemma-3-27b", "ollama:qwen2.5:14b"}},
		{"a bare name matches any backend", []string{"qwen2.5:14b"}, []string{"ollama:qwen2.5:14b", "lmstudio:google/gemma-3-27b", "lmstudio:qwen/qwen3-8b", "ollama:llama3.2:latest"}},
		{"the wrong backend does not match", []string{"lmstudio:qwen2.5:14b"}, []string{"lmstudio:google/gemma-3-27b", "ollama:qwen2.5:14b", "lmstudio:qwen/qwen3-8b", "ollama:llama3.2:latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := refs(v.rank(ParsePreferences(tt.prefs, []string{"ollama", "lmstudio"})))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestFit(t *testing.T) {
	big := chatModel("big", 14, 9)
	small := chatModel("small", 3, 2)
	inst := func(m llm.Model, vram int64) llm.Instance {
		return llm.Instance{Model: m.Name, ID: m.Name, SizeBytes: m.SizeBytes, VRAMBytes: vram}
	}
	tests := []struct {
		name      string
		pool      poolView
		loaded    []llm.Instance
		owned     map[string]bool
		other     []llm.Instance // loaded on a second endpoint in the same pool
		otherOwn  map[string]bool
		seen      map[string]seenSize
		cand      llm.Model
		wantOK    bool
		wantLoad  bool
		wantEvict bool
	}{
		{name: "loaded already", pool: poolView{bytes: 1}, loaded: []llm.Instance{inst(big, 9*gib)}, cand: big, wantOK: true, wantLoad: true},
		{name: "fits in free VRAM", pool: poolView{bytes: 16 * gib}, cand: big, wantOK: true},
		{name: "too big", pool: poolView{bytes: 8 * gib}, cand: big},
		{name: "the owner's model is never evicted", pool: poolView{bytes: 12 * gib}, loaded: []llm.Instance{inst(small, 2*gib)}, cand: big},
		{name: "fits after evicting Mai's", pool: poolView{bytes: 12 * gib}, loaded: []llm.Instance{inst(small, 2*gib)}, owned: map[string]bool{"small": true}, cand: big, wantOK: true, wantEvict: true},
		{name: "Mai's model on the other backend counts", pool: poolView{bytes: 12 * gib}, other: []llm.Instance{inst(small, 2*gib)}, otherOwn: map[string]bool{"small": true}, cand: big, wantOK: true, wantEvict: true},
		{name: "VRAM, not total size, on a GPU", pool: poolView{bytes: 12 * gib}, loaded: []llm.Instance{inst(small, gib/2)}, cand: big, wantOK: true},
		{name: "KV cache counts when only the weights are reported", pool: poolView{bytes: 14 * gib}, loaded: []llm.Instance{{Model: "small", ID: "small", SizeBytes: 2 * gib, ContextLength: 32768}}, cand: big},
		{name: "weights alone leave room", pool: poolView{bytes: 14 * gib}, loaded: []llm.Instance{{Model: "small", ID: "small", SizeBytes: 2 * gib, ContextLength: 1024}}, cand: big, wantOK: true},
		{name: "a measured size beats the estimate", pool: poolView{bytes: 16 * gib}, seen: map[string]seenSize{"big": {16 * gib, 8192}}, cand: big},
		{name: "a size measured at another context is not used", pool: poolView{bytes: 16 * gib}, seen: map[string]seenSize{"big": {15 * gib, 32768}}, cand: big, wantOK: true},
		{name: "too big for the CPU cores", pool: poolView{bytes: 64 * gib, cpu: true, cores: 8}, cand: big},
		{name: "enough CPU cores", pool: poolView{bytes: 64 * gib, cpu: true, cores: 10}, cand: big, wantOK: true},
		{name: "total size in RAM", pool: poolView{bytes: 12 * gib, cpu: true}, loaded: []llm.Instance{inst(small, gib/2)}, cand: big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := view{
				pools: []poolView{tt.pool},
				endpoints: []endpointView{
					{kind: "ollama", models: []llm.Model{big, small}, loaded: tt.loaded, owned: tt.owned, seen: tt.seen},
					{kind: "lmstudio", models: []llm.Model{small}, loaded: tt.other, owned: tt.otherOwn},
				},
			}
			f := v.fit(Candidate{Endpoint: 0, Backend: "ollama", Model: tt.cand}, 8192, 512<<20)
			if f.ok != tt.wantOK || f.loaded != tt.wantLoad || (f.ok && !f.loaded && (f.need > f.free) != tt.wantEvict) {
				t.Errorf("fit = %+v", f)
			}
			if !f.ok && !strings.Contains(f.reason(), "needs") && !strings.Contains(f.reason(), "CPU cores") {
				t.Error("no reason given for not fitting")
			}
		})
	}
}

func TestNeed(t *testing.T) {
	// Llama 3.1 8B as published: 32 layers, 8 KV heads of 128 dimensions,
	// so a 16-bit KV cache costs 2 (K and V) × 32 × 8 × 128 × 2 bytes =
	// 131072 bytes a token; the estimate from 8 billion parameters gives the
	// same: 48 KiB + 8 × 10 KiB = 128 KiB.
	m := chatModel("llama3.1:8b", 8, 4.6) // 4.6 GiB = 4939212390 bytes of weights
	if got := kvPerToken(m); got != 131072 {
		t.Errorf("kv per token of an 8B model = %d, want 131072", got)
	}
	for _, tt := range []struct {
		ctx  int
		want int64
	}{
		{4096, 4939212390 + 131072*4096},     // 5476083302
		{32768, 4939212390 + 131072*32768},   // 9234179686
		{1 << 20, 4939212390 + 131072*32768}, // capped at the model's 32768
	} {
		if got := Need(m, tt.ctx); got != tt.want {
			t.Errorf("Need(8B, %d) = %d, want %d", tt.ctx, got, tt.want)
		}
	}
	m.KVBytesPerToken = 1000
	if got := Need(m, 1000); got != 4940212390 {
		t.Errorf("reported KV size ignored: %d, want 4939212390 + 1000×1000", got)
	}
	// 9 GiB at 4.5 bits a weight: 9×2^30×8/4.5 = 17179869184 parameters.
	if p := params(llm.Model{SizeBytes: 9 * gib}); p != 17179869184 {
		t.Errorf("parameters from size = %d", p)
	}
	if got := kvPerToken(llm.Model{}); got != 128<<10 {
		t.Errorf("unknown model: %d bytes a token, want 128 KiB", got)
	}
	if got := kvPerToken(chatModel("x", 400, 200)); got != 384<<10 {
		t.Errorf("400B model: %d bytes a token, want the 384 KiB cap", got)
	}
}

// The budget of a probed GPU is what is free now plus what the model
// servers hold; a model that cannot be split must fit on one card; on a
// server of unknown size a model is tried, and one that failed to load
// there does not fit.
func TestFitMeasuredPools(t *testing.T) {
	big := chatModel("big", 14, 9) // 9 GiB + 188 KiB × 8192 of KV + 512 MiB headroom ≈ 11 GiB
	small := chatModel("small", 3, 2)
	mine := llm.Instance{Model: "small", ID: "small", SizeBytes: 2 * gib, VRAMBytes: 2 * gib}
	card := func(totalGiB, usedGiB int64) gpu.Device {
		return gpu.Device{Name: "GPU", Total: totalGiB * gib, Used: usedGiB * gib, Free: (totalGiB - usedGiB) * gib}
	}
	tests := []struct {
		name        string
		devices     []gpu.Device
		split       bool
		unknown     bool
		failed      bool
		wantOK      bool
		wantForeign int64
		wantReason  string
	}{
		{name: "only Mai's model on the card", devices: []gpu.Device{card(24, 2)}, wantOK: true, wantReason: "fits"},
		{name: "another program holds 18 GiB", devices: []gpu.Device{card(24, 20)}, wantForeign: 18 * gib, wantReason: "needs 11.0 GB of VRAM, 6.0 GB free"},
		{name: "two cards, split", devices: []gpu.Device{card(8, 2), card(8, 0)}, split: true, wantOK: true, wantReason: "fits"},
		{name: "two cards, not split", devices: []gpu.Device{card(8, 2), card(8, 0)}, wantReason: "needs 11.0 GB on one GPU, at most 8.0 GB there"},
		{name: "unknown size", unknown: true, wantOK: true, wantReason: "may fit"},
		{name: "unknown size, failed load", unknown: true, failed: true, wantReason: "failed to load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := endpointView{kind: "ollama", models: []llm.Model{big, small}, loaded: []llm.Instance{mine},
				owned: map[string]bool{"small": true}, split: tt.split, noFit: map[string]time.Time{}}
			if tt.failed {
				ev.noFit["big"] = time.Now()
			}
			v := view{pools: []poolView{{name: "gpu", unknown: tt.unknown}}, endpoints: []endpointView{ev}}
			if tt.devices != nil {
				v.measure(0, tt.devices)
			}
			if v.pools[0].foreign != tt.wantForeign {
				t.Errorf("other programs = %d, want %d", v.pools[0].foreign, tt.wantForeign)
			}
			f := v.fit(Candidate{Backend: "ollama", Model: big}, 8192, 512<<20)
			if f.ok != tt.wantOK || !strings.HasPrefix(f.reason(), tt.wantReason) {
				t.Errorf("fit = %v (%s), want %v (%s…)", f.ok, f.reason(), tt.wantOK, tt.wantReason)
			}
		})
	}
}
