package router

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/llm/lmstudio"
	"github.com/maicompanion/mai/internal/llm/ollama"
)

// LocalPool is the pool of this machine's GPU, or of its RAM without one.
const LocalPool = "local"

// remoteBytes is the budget of a backend on another machine, whose memory
// Mai cannot probe: that machine's server manages it, and Mai plans only
// with what is loaded there.
const remoteBytes = 1 << 50

// FromConfig builds the router Mai runs with: the Ollama and LM Studio
// endpoints of cfg, the preference list MAI_MODELS, and the memory found by
// the GPU probe (or the RAM, with CPU_CORES_AVAILABLE, without a GPU).
// Backends on this machine share its pool; one on another machine gets a
// pool of its own. onSwitch, when not nil, is called after every switch
// (to store it).
func FromConfig(cfg *config.Config, probe gpu.Result, log zerolog.Logger, onSwitch func(Switch)) (*Router, error) {
	local := PoolFromProbe(LocalPool, probe, 0)
	if local.CPU {
		ram, err := availableRAM("/proc/meminfo")
		if err != nil {
			return nil, fmt.Errorf("router: no GPU, and the RAM to plan with is unknown: %w", err)
		}
		local.Bytes, local.Cores = ram, cfg.CPUCores
	}
	rc := Config{Pools: []Pool{local}, Log: log, OnSwitch: onSwitch}
	add := func(endpoint string, build func() (Endpoint, error)) error {
		if endpoint == "" {
			return nil
		}
		ep, err := build()
		if err != nil {
			return err
		}
		ep.Pool = LocalPool
		if host := hostOf(endpoint); !isLocal(host) {
			ep.Pool = host
			rc.Pools = append(rc.Pools, Pool{Name: host, Bytes: remoteBytes})
		}
		rc.Endpoints = append(rc.Endpoints, ep)
		return nil
	}
	if err := add(cfg.OllamaEndpoint, func() (Endpoint, error) {
		c, err := ollama.New(cfg.OllamaEndpoint, ollama.Options{})
		return Endpoint{Backend: c}, err
	}); err != nil {
		return nil, fmt.Errorf("router: OLLAMA_ENDPOINT: %w", err)
	}
	if err := add(cfg.LMStudioEndpoint, func() (Endpoint, error) {
		c := lmstudio.New(lmstudio.Config{Endpoint: cfg.LMStudioEndpoint, Token: cfg.LMStudioAPIToken.Reveal()})
		return Endpoint{Backend: c}, nil
	}); err != nil {
		return nil, fmt.Errorf("router: LMSTUDIO_ENDPOINT: %w", err)
	}
	rc.Preferences = ParsePreferences(cfg.Models, []string{"ollama", "lmstudio"})
	return New(rc)
}

func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return endpoint
	}
	return u.Hostname()
}

// isLocal reports whether host is this machine: a loopback name or address.
func isLocal(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
