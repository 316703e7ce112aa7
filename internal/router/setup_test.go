package router

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/config"
	"github.com/maicompanion/mai/internal/gpu"
)

func TestFromConfig(t *testing.T) {
	cfg := &config.Config{
		OllamaEndpoint:   "http://localhost:11434",
		LMStudioEndpoint: "http://192.168.1.20:1234",
		LMStudioAPIToken: "tok",
		Models:           []string{"ollama:qwen2.5:14b", "lmstudio:qwen/qwen3-8b"},
		CPUCores:         6,
	}
	gpuProbe := gpu.Result{Source: gpu.SourceOverride, Devices: []gpu.Device{{Total: 8 << 30, Free: 8 << 30}}}
	tests := []struct {
		name      string
		probe     gpu.Result
		wantCPU   bool
		wantCores int
	}{
		{"gpu", gpuProbe, false, 0},
		{"cpu only", gpu.Result{Source: gpu.SourceNone}, true, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := FromConfig(cfg, tt.probe, zerolog.Nop(), nil)
			if err != nil {
				t.Fatal(err)
			}
			local := r.cfg.Pools[0]
			if local.Name != LocalPool || local.CPU != tt.wantCPU || local.Cores != tt.wantCores || local.Bytes <= 0 {
				t.Errorf("local pool = %+v", local)
			}
			if !tt.wantCPU && local.Bytes != 8<<30 {
				t.Errorf("GPU pool bytes = %d", local.Bytes)
			}
			if len(r.eps) != 2 || r.eps[0].be.Name() != "ollama" || r.eps[1].be.Name() != "lmstudio" {
				t.Fatalf("endpoints = %+v", r.cfg.Endpoints)
			}
			if r.cfg.Endpoints[0].Pool != LocalPool || r.cfg.Endpoints[1].Pool != "192.168.1.20" || r.cfg.Pools[1].Name != "192.168.1.20" {
				t.Errorf("pools: %+v %+v", r.cfg.Endpoints, r.cfg.Pools)
			}
			want := []Preference{{"ollama", "qwen2.5:14b"}, {"lmstudio", "qwen/qwen3-8b"}}
			if !slices.Equal(r.cfg.Preferences, want) {
				t.Errorf("preferences = %v", r.cfg.Preferences)
			}
		})
	}
	if _, err := FromConfig(&config.Config{OllamaEndpoint: "localhost:11434"}, gpuProbe, zerolog.Nop(), nil); err == nil {
		t.Error("an endpoint without a scheme was accepted")
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

func TestIsLocal(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "192.168.1.20": false, "gpu-box": false} {
		if got := isLocal(host); got != want {
			t.Errorf("isLocal(%q) = %v", host, got)
		}
	}
}
