package router

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/gpu"
)

func TestFromConfig(t *testing.T) {
	cfg := &config.Config{
		OllamaEndpoints:   []config.Endpoint{{URL: "http://localhost:11434"}, {URL: "http://192.168.1.30:11434", BudgetGB: 24}},
		LMStudioEndpoints: []config.Endpoint{{URL: "http://192.168.1.20:1234"}, {URL: "http://192.168.1.30:1234"}},
		LMStudioAPIToken:  "tok",
		Models:            []string{"ollama:qwen2.5:14b", "lmstudio:qwen/qwen3-8b"},
		CPUCores:          6,
	}
	gpuProbe := gpu.Result{Source: gpu.SourceOverride, Devices: []gpu.Device{{Total: 8 << 30, Free: 8 << 30}}}
	tests := []struct {
		name         string
		probe        gpu.Result
		wantCPU      bool
		wantCores    int
		wantHeadroom int64
	}{
		{"gpu", gpuProbe, false, 0, 512 << 20}, // 5 % of 8 GiB is less than 512 MiB
		{"cpu only", gpu.Result{Source: gpu.SourceNone}, true, 6, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := FromConfig(cfg, Setup{Probe: tt.probe, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			local := r.cfg.Pools[0]
			if local.Name != LocalPool || local.CPU != tt.wantCPU || local.Cores != tt.wantCores || local.Bytes <= 0 || local.Headroom != tt.wantHeadroom {
				t.Errorf("local pool = %+v", local)
			}
			if !tt.wantCPU && local.Bytes != 8<<30 {
				t.Errorf("GPU pool bytes = %d", local.Bytes)
			}
			var got []string
			for i, ep := range r.cfg.Endpoints {
				got = append(got, ep.Backend.Name()+" "+ep.Backend.Endpoint()+" "+ep.Pool)
				if !r.eps[i].split {
					t.Errorf("%s: Ollama and LM Studio split models across GPUs", ep.Backend.Endpoint())
				}
			}
			want := []string{
				"ollama http://localhost:11434 local",
				"ollama http://192.168.1.30:11434 192.168.1.30",
				"lmstudio http://192.168.1.20:1234 192.168.1.20",
				"lmstudio http://192.168.1.30:1234 192.168.1.30", // the same machine: the same pool
			}
			if !slices.Equal(got, want) {
				t.Errorf("endpoints = %q\nwant %q", got, want)
			}
			if p := r.cfg.Pools; len(p) != 3 || p[1].Name != "192.168.1.30" || p[1].Bytes != 24<<30 || p[1].Unknown ||
				p[1].Headroom != 24<<30/20 || p[2].Name != "192.168.1.20" || !p[2].Unknown {
				t.Errorf("remote pools = %+v", p[1:])
			}
			wantPrefs := []Preference{{"ollama", "qwen2.5:14b"}, {"lmstudio", "qwen/qwen3-8b"}}
			if !slices.Equal(r.cfg.Preferences, wantPrefs) {
				t.Errorf("preferences = %v", r.cfg.Preferences)
			}
		})
	}
	for name, eps := range map[string][]config.Endpoint{
		"no scheme":              {{URL: "localhost:11434"}},
		"two budgets for a host": {{URL: "http://gpu-box:11434", BudgetGB: 8}, {URL: "http://gpu-box:11435", BudgetGB: 12}},
	} {
		if _, err := FromConfig(&config.Config{OllamaEndpoints: eps}, Setup{Probe: gpuProbe}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A probed GPU is read again at every plan: what another program takes
// meanwhile is not planned with.
func TestFromConfigReprobes(t *testing.T) {
	h200 := func(usedMiB int64) gpu.Result {
		return gpu.Result{Source: gpu.SourceNvidia, Devices: []gpu.Device{{Name: "NVIDIA H200", Total: 143771 << 20, Used: usedMiB << 20, Free: (143771 - usedMiB) << 20}}}
	}
	used := int64(0)
	var probeErr error
	cfg := &config.Config{OllamaEndpoints: []config.Endpoint{{URL: "http://127.0.0.1:9"}}}
	r, err := FromConfig(cfg, Setup{Probe: h200(0), Reprobe: func(context.Context) (gpu.Result, error) { return h200(used), probeErr }})
	if err != nil {
		t.Fatal(err)
	}
	used = 103019 // the measurement: another process holds 103,019 MiB
	p := r.Plan(t.Context()).Pools[0]
	// Nothing of Ollama's is loaded (it is not even reachable), so all of
	// the used memory is other programs': 143771 − 103019 = 40752 MiB remain,
	// and the headroom is 5 % of 143771 MiB (150754820096 bytes) = 7537741004.
	if p.Bytes != 40752<<20 || p.OtherPrograms != 103019<<20 || p.Free != 40752<<20 || p.Headroom != 7537741004 {
		t.Errorf("pool = %+v", p)
	}
	// A probe that fails plans with the last reading, and says so.
	used, probeErr = 0, errors.New("nvidia-smi did not answer")
	if p := r.Plan(t.Context()).Pools[0]; p.OtherPrograms != 103019<<20 || !strings.Contains(p.ProbeError, "did not answer") {
		t.Errorf("after a failed probe: %+v", p)
	}
}

func TestAvailableRAM(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if b, err := availableRAM(write("ok", "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   16000000 kB\n")); err != nil || b != 16000000<<10 {
		t.Errorf("ok: %d %v", b, err)
	}
	for name, text := range map[string]string{"missing": "MemTotal: 1 kB\n", "garbled": "MemAvailable: lots kB\n", "empty": ""} {
		if _, err := availableRAM(write(name, text)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := availableRAM(filepath.Join(dir, "absent")); err == nil {
		t.Error("absent file: no error")
	}
}
