package router

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/ollama"
)

// LocalPool is the pool of this machine's GPU, or of its RAM without one.
const LocalPool = "local"

// Setup is what FromConfig needs besides the configuration.
type Setup struct {
	// Probe is the GPU probe at start: its devices' totals size the
	// headroom, and without a GPU the RAM is the local pool.
	Probe gpu.Result
	// Reprobe reads the GPUs again; the router calls it at every plan, so
	// that memory other programs take or free is seen. nil keeps Probe's
	// figures (GPU_VRAM_AVAILABLE, tests).
	Reprobe  func(context.Context) (gpu.Result, error)
	Log      zerolog.Logger
	OnSwitch func(Switch) // called after every switch (to store it); may be nil
	Ledger   Ledger       // keeps the instances Mai loaded across restarts; may be nil
	Cache    *ModelCache  // MODEL_CACHE_DIR, opened; may be nil
}

// FromConfig builds the router Mai runs with: every Ollama and LM Studio
// endpoint of cfg, the preference list MAI_MODELS, and the memory of each
// pool. Backends on this machine share its pool: its GPUs, read afresh at
// every plan (or GPU_VRAM_AVAILABLE, or the RAM with CPU_CORES_AVAILABLE
// without a GPU). The backends of another machine share a pool of their
// own, with the budget given after its URL or, without one, of unknown size.
func FromConfig(cfg *config.Config, s Setup) (*Router, error) {
	local, err := localPool(cfg, s)
	if err != nil {
		return nil, err
	}
	rc := Config{Pools: []Pool{local}, Log: s.Log, OnSwitch: s.OnSwitch, Ledger: s.Ledger, Cache: s.Cache}
	add := func(e config.Endpoint, be llm.Backend) error {
		ep := Endpoint{Backend: be, Pool: LocalPool, SplitsGPUs: true}
		host := e.Host()
		if e.OnThisMachine() {
			rc.Endpoints = append(rc.Endpoints, ep)
			return nil
		}
		ep.Pool = host
		budget := int64(e.BudgetGB * gpu.GiB)
		i := slices.IndexFunc(rc.Pools, func(p Pool) bool { return p.Name == host })
		switch {
		case i < 0:
			rc.Pools = append(rc.Pools, Pool{Name: host, Bytes: budget, Unknown: budget == 0, Headroom: headroomOf(cfg, budget)})
		case budget > 0 && rc.Pools[i].Bytes > 0 && rc.Pools[i].Bytes != budget:
			return fmt.Errorf("%s: %s already has a budget of %g GB, and one machine has one budget", e.URL, host, float64(rc.Pools[i].Bytes)/gpu.GiB)
		case budget > 0:
			rc.Pools[i].Bytes, rc.Pools[i].Unknown, rc.Pools[i].Headroom = budget, false, headroomOf(cfg, budget)
		}
		rc.Endpoints = append(rc.Endpoints, ep)
		return nil
	}
	// Both servers run llama.cpp, which spreads a model over several GPUs
	// by layers when one card cannot hold it.
	for _, e := range cfg.OllamaEndpoints {
		c, err := ollama.New(e.URL, ollama.Options{})
		if err == nil {
			err = add(e, c)
		}
		if err != nil {
			return nil, fmt.Errorf("router: OLLAMA_ENDPOINT: %w", err)
		}
	}
	for _, e := range cfg.LMStudioEndpoints {
		if err := add(e, lmstudio.New(lmstudio.Config{Endpoint: e.URL, Token: cfg.LMStudioAPIToken.Reveal()})); err != nil {
			return nil, fmt.Errorf("router: LMSTUDIO_ENDPOINT: %w", err)
		}
	}
	rc.Preferences = ParsePreferences(cfg.Models, []string{"ollama", "lmstudio"})
	return New(rc)
}

// headroomOf is the headroom of a pool of total bytes, as Pool.Headroom
// takes it (negative for none).
func headroomOf(cfg *config.Config, total int64) int64 {
	if h := cfg.VRAMHeadroom.Bytes(total); h > 0 {
		return h
	}
	return -1
}

// localPool is this machine's memory: its GPUs, probed again at every plan
// unless GPU_VRAM_AVAILABLE fixes the budget, or its RAM without a GPU.
func localPool(cfg *config.Config, s Setup) (Pool, error) {
	local := PoolFromProbe(LocalPool, s.Probe, 0)
	if local.CPU {
		ram, err := availableRAM("/proc/meminfo")
		if err != nil {
			return Pool{}, fmt.Errorf("router: no GPU, and the RAM to plan with is unknown: %w", err)
		}
		local.Bytes, local.Cores = ram, cfg.CPUCores
		return local, nil
	}
	// The headroom is per card: 5 % of each card (or the owner's share), at
	// least the fixed minimum on each.
	for _, d := range s.Probe.Devices {
		local.Headroom += max(headroomOf(cfg, d.Total), 0)
	}
	if local.Headroom == 0 {
		local.Headroom = -1 // GPU_VRAM_HEADROOM=0: none, not the default
	}
	if s.Probe.Source != gpu.SourceOverride && s.Reprobe != nil {
		reprobe, first := s.Reprobe, s.Probe.Devices
		local.Probe = func(ctx context.Context) ([]gpu.Device, error) {
			r, err := reprobe(ctx)
			if err != nil || r.CPUOnly() {
				return first, cmp.Or(err, errors.New("the GPU is no longer found"))
			}
			return r.Devices, nil
		}
	}
	return local, nil
}

// availableRAM reads MemAvailable from a meminfo file, in bytes.
func availableRAM(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemAvailable %q: %w", path, f[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s has no MemAvailable line", path)
}
