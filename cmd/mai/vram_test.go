package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maicompanion/mai/internal/llm/lmstudio/lmstudiotest"
	"github.com/maicompanion/mai/internal/llm/ollama/ollamatest"
)

// fakeNvidiaSMI puts a stand-in nvidia-smi first on PATH that answers
// Mai's memory query with one line per GPU (name, total, used, free in MiB).
func fakeNvidiaSMI(t *testing.T, lines ...string) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\ncase \"$1\" in --query-gpu=name,memory.total,memory.used,memory.free) ;; *) echo \"unexpected $*\" >&2; exit 2;; esac\n"
	for _, l := range lines {
		script += "echo '" + l + "'\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// modelsStatus runs `mai models status --json`.
func modelsStatus(t *testing.T, dir string, env map[string]string) (rep struct {
	Pools []struct {
		Name          string `json:"name"`
		Bytes         int64  `json:"bytes"`
		Free          int64  `json:"free"`
		OtherPrograms int64  `json:"other_programs"`
		Headroom      int64  `json:"headroom"`
	} `json:"pools"`
	Candidates []struct {
		Ref    string `json:"ref"`
		Fits   bool   `json:"fits"`
		Reason string `json:"reason"`
	} `json:"candidates"`
}) {
	t.Helper()
	r := runMai(t, dir, env, "models", "status", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	return rep
}

// The H200: 143,771 MiB, of which another process holds 103,019.
// A 60 GB model fits the card but not what is left of it.
func TestVRAMPlanLeavesOtherProgramsMemory(t *testing.T) {
	fakeNvidiaSMI(t, "NVIDIA H200, 143771, 103019, 40752")
	srv := lmstudiotest.New(t,
		lmstudiotest.Model{Key: "meta/llama-3.3-70b", ParamsString: "70B", SizeBytes: 60 << 30},
		lmstudiotest.Model{Key: "qwen/qwen3-8b", ParamsString: "8B", SizeBytes: 5 << 30},
	)
	dir := t.TempDir()
	env := map[string]string{"LMSTUDIO_ENDPOINT": srv.URL, "OLLAMA_ENDPOINT": "http://127.0.0.1:9"}
	rep := modelsStatus(t, dir, env)
	p := rep.Pools[0]
	// Budget 143771 − 103019 = 40752 MiB; headroom 5 % of 143771 MiB.
	if p.Bytes != 40752<<20 || p.Free != 40752<<20 || p.OtherPrograms != 103019<<20 || p.Headroom != 7537741004 {
		t.Errorf("pool = %+v", p)
	}
	got := map[string]bool{}
	for _, c := range rep.Candidates {
		got[c.Ref] = c.Fits
	}
	if got["lmstudio:meta/llama-3.3-70b"] || !got["lmstudio:qwen/qwen3-8b"] {
		t.Errorf("candidates = %+v; the 60 GB model must not fit in 39.8 GB", rep.Candidates)
	}
	text := runMai(t, dir, env, "models", "status")
	if !strings.Contains(text.stdout, "local: other programs use 100.6 GB of VRAM") || !strings.Contains(text.stdout, "GPU 0 NVIDIA H200: 39.8 GB free of 140.4 GB") {
		t.Errorf("models status should show other programs' share and each GPU:\n%s", text.stdout)
	}
	// GPU_VRAM_AVAILABLE stays an override: nothing is probed.
	env["GPU_VRAM_AVAILABLE"] = "80"
	if p := modelsStatus(t, dir, env).Pools[0]; p.Bytes != 80<<30 || p.OtherPrograms != 0 {
		t.Errorf("override: pool = %+v", p)
	}
}

// The same with the real Ollama and its tiny models: a card almost full
// with another program's memory leaves room for the small model only, so
// the preferred large one is passed over.
func TestVRAMPlanOnRealOllama(t *testing.T) {
	srv := ollamatest.Start(t)
	// 4 MiB free: the small model needs its 268 KiB of weights and
	// 512 B × 4096 of KV cache (2.3 MB); the large one 1.6 MB and
	// 2048 B × 4096 (about 10 MB).
	fakeNvidiaSMI(t, "Stand-in GPU, 1024, 1020, 4")
	dir := t.TempDir()
	env := map[string]string{
		"OLLAMA_ENDPOINT":   srv.URL(),
		"LMSTUDIO_ENDPOINT": "http://127.0.0.1:9",
		"GPU_VRAM_HEADROOM": "0",
		"MAI_MODELS":        "ollama:" + ollamatest.LargeChatModel + ",ollama:" + ollamatest.ChatModel,
	}
	rep := modelsStatus(t, dir, env)
	if p := rep.Pools[0]; p.Free != 4<<20 || p.OtherPrograms != 1020<<20 {
		t.Errorf("pool = %+v", p)
	}
	if len(rep.Candidates) < 2 || rep.Candidates[0].Fits || !rep.Candidates[1].Fits {
		t.Fatalf("candidates = %+v", rep.Candidates)
	}
	c := runMai(t, dir, env, "chat", "--once", "hi", "--max-tokens", "4", "--stats")
	if c.code != 0 || !strings.Contains(c.stderr, "["+ollamatest.ChatModel+":") {
		t.Errorf("the small model should answer: %+v", c)
	}
}
